/* Stand-in for ONNX Runtime's execution-provider plugin API header, which
 * onnxruntime_c_api.h (API version 23 and later) includes at its end and which
 * ../shared/third_party/onnxruntime does not have. rtml runs the built-in CPU
 * execution provider and uses nothing declared there, so this declares
 * nothing. A release's own copy, when present in its include/ folder, is
 * found first. */
#ifndef RTML_ONNXRUNTIME_EP_C_API_COMPAT_H
#define RTML_ONNXRUNTIME_EP_C_API_COMPAT_H
#endif
