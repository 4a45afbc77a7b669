/* rtml C API: a plain C interface over the C++ engine, for C programs and
 * audio callbacks (Bela's render(), JUCE, plain C).
 *
 *   rtml_model* m; rtml_session* s;
 *   if (rtml_model_load("model.onnx", &m) != 0) { puts(rtml_last_error()); ... }
 *   if (rtml_session_create(m, "x=1x1x16", &s) != 0) { ... }
 *   rtml_session_bind_input(s, 0, in);      // your buffers, no copies
 *   rtml_session_bind_output(s, 0, out);
 *   rtml_session_run(s);                    // real-time safe
 *
 * Functions returning int return 0 on success and nonzero on failure; the
 * message is then available from rtml_last_error() (per thread). Load and
 * create allocate; run, reset, bind and the accessors do not. */
#ifndef RTML_RTML_H
#define RTML_RTML_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtml_model rtml_model;
typedef struct rtml_session rtml_session;

/* The message of the last failed call on this thread ("" if none). */
const char* rtml_last_error(void);

int rtml_model_load(const char* path, rtml_model** out);
void rtml_model_free(rtml_model* model);

/* shapes: NULL, or "name=1x128;other=1x1x64" fixing dynamic dimensions. */
int rtml_session_create(const rtml_model* model, const char* shapes, rtml_session** out);

/* Options for rtml_session_create_with (rtml_session_options_default() first,
 * then change what you need). */
typedef struct rtml_session_options {
  /* Threads per inference, the caller's included: 1 (the default) starts no
   * thread; 0 takes every core the process may use; at most 64. With more
   * than 1 the session starts its worker threads now, and run() splits its
   * large GEMMs and convolutions over them: it may then wake them and wait
   * (futex calls; no allocation, no lock); outputs are bit-identical. */
  int threads;
} rtml_session_options;
rtml_session_options rtml_session_options_default(void);
/* rtml_session_create with options (NULL: the defaults). */
int rtml_session_create_with(const rtml_model* model, const char* shapes, const rtml_session_options* options,
                             rtml_session** out);
/* Threads the session's runs use. */
int rtml_session_threads(const rtml_session* s);
void rtml_session_free(rtml_session* session);

size_t rtml_session_num_inputs(const rtml_session* s);
size_t rtml_session_num_outputs(const rtml_session* s);
/* Index of the input/output called `name`, or -1. */
int rtml_session_input_index(const rtml_session* s, const char* name);
int rtml_session_output_index(const rtml_session* s, const char* name);
/* Name, element type (ONNX numbering: 1 = float32), rank, dims, bytes. */
const char* rtml_session_input_name(const rtml_session* s, size_t i);
const char* rtml_session_output_name(const rtml_session* s, size_t i);
int32_t rtml_session_input_type(const rtml_session* s, size_t i);
int32_t rtml_session_output_type(const rtml_session* s, size_t i);
size_t rtml_session_input_rank(const rtml_session* s, size_t i);
size_t rtml_session_output_rank(const rtml_session* s, size_t i);
int64_t rtml_session_input_dim(const rtml_session* s, size_t i, size_t axis);
int64_t rtml_session_output_dim(const rtml_session* s, size_t i, size_t axis);
size_t rtml_session_input_bytes(const rtml_session* s, size_t i);
size_t rtml_session_output_bytes(const rtml_session* s, size_t i);

/* The session's own buffers (valid until rebound or freed). */
void* rtml_session_input_data(rtml_session* s, size_t i);
void* rtml_session_output_data(rtml_session* s, size_t i);
/* Point an input/output at caller-owned memory of at least *_bytes(). */
int rtml_session_bind_input(rtml_session* s, size_t i, void* data);
int rtml_session_bind_output(rtml_session* s, size_t i, void* data);

/* Copy output `output_name` into input `input_name` after every run. */
int rtml_session_link_state(rtml_session* s, const char* output_name, const char* input_name);
void rtml_session_reset(rtml_session* s);

/* One inference: no allocation, locks, system calls (but the futex calls of
 * a session with threads > 1). 0 on success. */
int rtml_session_run(rtml_session* s);

#ifdef __cplusplus
}
#endif

#endif /* RTML_RTML_H */
