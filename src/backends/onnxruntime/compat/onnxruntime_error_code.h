/* OrtErrorCode, for ONNX Runtime C API headers that include
 * "onnxruntime_error_code.h" (API version 23 and later) when the folder they
 * come from does not have it (../shared/third_party/onnxruntime has the C API
 * header alone). Written for rtml from the API's documented error codes; a
 * release's own copy, when present in its include/ folder, is found first.
 * rtml only passes OrtStatus values through and reads their messages. */
#ifndef RTML_ONNXRUNTIME_ERROR_CODE_COMPAT_H
#define RTML_ONNXRUNTIME_ERROR_CODE_COMPAT_H

typedef enum OrtErrorCode {
  ORT_OK,
  ORT_FAIL,
  ORT_INVALID_ARGUMENT,
  ORT_NO_SUCHFILE,
  ORT_NO_MODEL,
  ORT_ENGINE_ERROR,
  ORT_RUNTIME_EXCEPTION,
  ORT_INVALID_PROTOBUF,
  ORT_MODEL_LOADED,
  ORT_NOT_IMPLEMENTED,
  ORT_INVALID_GRAPH,
  ORT_EP_FAIL,
} OrtErrorCode;

#endif
