// Schemas of mmzoo's custom ops (torch.ops.mmzoo.*); the kernels register in
// cpu/ and cuda/, fake kernels and autograd in mmzoo/ops/_library.py.
#include <Python.h>
#include <torch/library.h>

// `import mmzoo._ext` runs the static registrations below; the module itself
// holds nothing.
extern "C" PyObject* PyInit__ext(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_ext",
                                          nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}

TORCH_LIBRARY(mmzoo, m) {
  m.def("window_partition(Tensor x, int window_size, int shift_size) -> Tensor");
  m.def(
      "window_reverse(Tensor windows, int window_size, int shift_size, int H, "
      "int W) -> Tensor");
  // Returns (out, lse); lse is float32 (float64 for float64 inputs).
  m.def(
      "window_attention_fwd(Tensor q, Tensor k, Tensor v, Tensor? bias, "
      "Tensor? mask, float scale) -> (Tensor, Tensor)");
  // Returns (dq, dk, dv, dbias); dbias is empty when bias is None.
  m.def(
      "window_attention_bwd(Tensor grad_out, Tensor? grad_lse, Tensor q, "
      "Tensor k, Tensor v, Tensor out, Tensor lse, Tensor? bias, Tensor? mask, "
      "float scale) -> (Tensor, Tensor, Tensor, Tensor)");
  // The same attention from one packed projection qkv (B*nW, N, 3C), read in
  // place; out is (B*nW, N, C) with the heads side by side, the gradient
  // (dqkv, dbias) in qkv's layout. Saves the copies that splitting and
  // merging heads cost around the unpacked op.
  m.def(
      "window_attention_qkv_fwd(Tensor qkv, int heads, Tensor? bias, "
      "Tensor? mask, float scale) -> (Tensor, Tensor)");
  m.def(
      "window_attention_qkv_bwd(Tensor grad_out, Tensor? grad_lse, Tensor qkv, "
      "Tensor out, Tensor lse, Tensor? bias, Tensor? mask, int heads, "
      "float scale) -> (Tensor, Tensor)");
}
