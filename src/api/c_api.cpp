// The C API (include/rtml/rtml.h) over the C++ API. Exceptions stop here and
// become a nonzero return plus rtml_last_error().
#include "rtml/rtml.h"

#include <new>
#include <string>

#include "plan/plan.h"
#include "rtml/rtml.hpp"

struct rtml_model {
  rtml::Model model;
};
struct rtml_session {
  rtml::Session session;
  std::vector<std::string> input_names, output_names;
  std::vector<rtml::TensorDesc> inputs, outputs;
};

namespace {
thread_local std::string g_last_error;

template <class F>
int guarded(F&& f) {
  try {
    f();
    g_last_error.clear();
    return 0;
  } catch (const std::bad_alloc&) {
    g_last_error = "out of memory";
  } catch (const std::exception& e) {
    g_last_error = e.what();
  }
  return 1;
}

int fail(const char* message) {
  g_last_error = message;
  return 1;
}
}  // namespace

extern "C" {

const char* rtml_last_error(void) { return g_last_error.c_str(); }

int rtml_model_load(const char* path, rtml_model** out) {
  if (!path || !out) return fail("rtml_model_load: null argument");
  *out = nullptr;
  return guarded([&] { *out = new rtml_model{rtml::Model::load(path)}; });
}

void rtml_model_free(rtml_model* model) { delete model; }

int rtml_session_create(const rtml_model* model, const char* shapes, rtml_session** out) {
  return rtml_session_create_with(model, shapes, nullptr, out);
}

rtml_session_options rtml_session_options_default(void) {
  rtml_session_options o;
  o.threads = 1;
  return o;
}

int rtml_session_threads(const rtml_session* s) { return s->session.threads(); }

int rtml_session_create_with(const rtml_model* model, const char* shapes, const rtml_session_options* options,
                             rtml_session** out) {
  if (!model || !out) return fail("rtml_session_create: null argument");
  *out = nullptr;
  return guarded([&] {
    rtml::ShapeMap map;
    std::string spec = shapes ? shapes : "";
    size_t start = 0;
    while (start < spec.size()) {
      size_t end = spec.find(';', start);
      if (end == std::string::npos) end = spec.size();
      std::string item = spec.substr(start, end - start);
      start = end + 1;
      if (item.empty()) continue;
      size_t eq = item.rfind('=');
      if (eq == std::string::npos || eq == 0) throw rtml::Error("bad shape '" + item + "': expected name=1x128");
      map[item.substr(0, eq)] = rtml::plan::parse_shape(item.substr(eq + 1));
    }
    rtml::SessionOptions session_options;
    if (options) session_options.threads = options->threads;
    auto* s = new rtml_session{rtml::Session::prepare(model->model, map, session_options), {}, {}, {}, {}};
    for (size_t i = 0; i < s->session.num_inputs(); ++i) s->inputs.push_back(s->session.input(i));
    for (size_t i = 0; i < s->session.num_outputs(); ++i) s->outputs.push_back(s->session.output(i));
    *out = s;
  });
}

void rtml_session_free(rtml_session* s) { delete s; }

size_t rtml_session_num_inputs(const rtml_session* s) { return s->inputs.size(); }
size_t rtml_session_num_outputs(const rtml_session* s) { return s->outputs.size(); }
int rtml_session_input_index(const rtml_session* s, const char* name) { return s->session.input_index(name); }
int rtml_session_output_index(const rtml_session* s, const char* name) { return s->session.output_index(name); }
const char* rtml_session_input_name(const rtml_session* s, size_t i) { return i < s->inputs.size() ? s->inputs[i].name.c_str() : nullptr; }
const char* rtml_session_output_name(const rtml_session* s, size_t i) { return i < s->outputs.size() ? s->outputs[i].name.c_str() : nullptr; }
int32_t rtml_session_input_type(const rtml_session* s, size_t i) { return i < s->inputs.size() ? s->inputs[i].element_type : 0; }
int32_t rtml_session_output_type(const rtml_session* s, size_t i) { return i < s->outputs.size() ? s->outputs[i].element_type : 0; }
size_t rtml_session_input_rank(const rtml_session* s, size_t i) { return i < s->inputs.size() ? s->inputs[i].shape.size() : 0; }
size_t rtml_session_output_rank(const rtml_session* s, size_t i) { return i < s->outputs.size() ? s->outputs[i].shape.size() : 0; }
int64_t rtml_session_input_dim(const rtml_session* s, size_t i, size_t axis) {
  return i < s->inputs.size() && axis < s->inputs[i].shape.size() ? s->inputs[i].shape[axis] : -1;
}
int64_t rtml_session_output_dim(const rtml_session* s, size_t i, size_t axis) {
  return i < s->outputs.size() && axis < s->outputs[i].shape.size() ? s->outputs[i].shape[axis] : -1;
}
size_t rtml_session_input_bytes(const rtml_session* s, size_t i) { return i < s->inputs.size() ? s->inputs[i].bytes : 0; }
size_t rtml_session_output_bytes(const rtml_session* s, size_t i) { return i < s->outputs.size() ? s->outputs[i].bytes : 0; }

void* rtml_session_input_data(rtml_session* s, size_t i) { return i < s->inputs.size() ? s->session.input_data(i) : nullptr; }
void* rtml_session_output_data(rtml_session* s, size_t i) { return i < s->outputs.size() ? s->session.output_data(i) : nullptr; }

int rtml_session_bind_input(rtml_session* s, size_t i, void* data) {
  if (i >= s->inputs.size()) return fail("rtml_session_bind_input: input index out of range");
  s->session.bind_input(i, data);
  return 0;
}

int rtml_session_bind_output(rtml_session* s, size_t i, void* data) {
  if (i >= s->outputs.size()) return fail("rtml_session_bind_output: output index out of range");
  s->session.bind_output(i, data);
  return 0;
}

int rtml_session_link_state(rtml_session* s, const char* output_name, const char* input_name) {
  if (!output_name || !input_name) return fail("rtml_session_link_state: null name");
  return guarded([&] { s->session.link_state(output_name, input_name); });
}

void rtml_session_reset(rtml_session* s) { s->session.reset(); }

int rtml_session_run(rtml_session* s) { return s->session.run().code; }

}  // extern "C"
