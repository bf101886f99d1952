// torch.ops.mmzoo._choose_attention_kernel: the CUDA build's kernel choice
// (kernel_choice.h), in every build, so that the tests check it for GPUs
// and architecture lists that the test machine lacks.
#include <torch/library.h>

#include <string>
#include <string_view>

#include "kernel_choice.h"

namespace mmzoo {
namespace {

std::string choose_attention_kernel_op(bool half_precision,
                                       bool fits_shared_memory,
                                       int64_t device_arch,
                                       int64_t loaded_arch,
                                       std::string_view compiled_archs,
                                       std::string_view request) {
  return choose_attention_kernel(
             half_precision, fits_shared_memory,
             static_cast<int>(device_arch), static_cast<int>(loaded_arch),
             compiled_archs, request) == AttentionKernel::kTensorCores
             ? "tensor_cores"
             : "simt";
}

}  // namespace
}  // namespace mmzoo

TORCH_LIBRARY_FRAGMENT(mmzoo, m) {
  m.def(
      "_choose_attention_kernel(bool half_precision, bool fits_shared_memory, "
      "int device_arch, int loaded_arch, str compiled_archs, str request) -> "
      "str",
      &mmzoo::choose_attention_kernel_op);
}
