/* Streams a one-step LSTM the way an audio callback would, through rtml's C
 * API: the state (h, c) is carried from the outputs back to the inputs by the
 * engine after every run, and all buffers belong to this program.
 *
 * usage: embed MODEL.onnx X.f32 EXPECTED_Y.f32
 * MODEL has inputs x [1,1,F], h, c and outputs y [1,1,K], h_out, c_out;
 * X.f32 holds T frames of F floats, EXPECTED_Y.f32 T frames of K floats
 * (tests/models/pytorch_models.py writes them from PyTorch). Exits 0 when
 * every output is within 1e-4 of the expected value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rtml/rtml.h"

static float* read_floats(const char* path, size_t* count) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  float* data = malloc((size_t)bytes);
  *count = fread(data, sizeof(float), (size_t)bytes / sizeof(float), f);
  fclose(f);
  return data;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s MODEL.onnx X.f32 EXPECTED_Y.f32\n", argv[0]);
    return 2;
  }
  rtml_model* model;
  rtml_session* s;
  if (rtml_model_load(argv[1], &model) || rtml_session_create(model, NULL, &s)) {
    fprintf(stderr, "embed: %s\n", rtml_last_error());
    return 1;
  }
  if (rtml_session_link_state(s, "h_out", "h") || rtml_session_link_state(s, "c_out", "c")) {
    fprintf(stderr, "embed: %s\n", rtml_last_error());
    return 1;
  }
  int xi = rtml_session_input_index(s, "x"), yi = rtml_session_output_index(s, "y");
  size_t frame_in = rtml_session_input_bytes(s, (size_t)xi) / sizeof(float);
  size_t frame_out = rtml_session_output_bytes(s, (size_t)yi) / sizeof(float);

  size_t nx, ny;
  float* x = read_floats(argv[2], &nx);
  float* expected = read_floats(argv[3], &ny);
  if (!x || !expected || nx % frame_in || ny / frame_out != nx / frame_in) {
    fprintf(stderr, "embed: cannot read matching frames from %s and %s\n", argv[2], argv[3]);
    return 1;
  }
  size_t frames = nx / frame_in;
  float* y = malloc(ny * sizeof(float));

  /* The "callback": bind this frame's buffers and run. Binding only rewrites
   * pointers; run() allocates nothing. */
  for (size_t t = 0; t < frames; ++t) {
    rtml_session_bind_input(s, (size_t)xi, x + t * frame_in);
    rtml_session_bind_output(s, (size_t)yi, y + t * frame_out);
    if (rtml_session_run(s) != 0) {
      fprintf(stderr, "embed: run failed at frame %zu\n", t);
      return 1;
    }
  }
  double worst = 0;
  for (size_t i = 0; i < ny; ++i) {
    double err = fabs((double)y[i] - expected[i]);
    double rel = err / (fabs(expected[i]) > 1e-30 ? fabs(expected[i]) : 1e-30);
    double e = err < rel ? err : rel;
    if (e > worst) worst = e;
  }
  printf("embed: %zu frames streamed, worst error %.3g (limit 1e-4)\n", frames, worst);
  rtml_session_free(s);
  rtml_model_free(model);
  free(x);
  free(y);
  free(expected);
  return worst <= 1e-4 ? 0 : 1;
}
