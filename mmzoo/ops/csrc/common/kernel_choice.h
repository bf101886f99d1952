// Which kernel runs window attention on a GPU, as pure logic of what the GPU
// is and what was compiled for it, so that the CPU tests can check the
// decision for any GPU and build (kernel_choice.cpp exposes it as
// torch.ops.mmzoo._choose_attention_kernel). Host code only.
#pragma once

#include <c10/util/Exception.h>

#include <string>
#include <string_view>

namespace mmzoo {

enum class AttentionKernel { kSimt, kTensorCores };

// Architectures are 10 * major + minor (compute capability 8.6 -> 86).
inline std::string arch_name(int arch) {
  return std::to_string(arch / 10) + "." + std::to_string(arch % 10);
}

// Refuses, naming what was compiled, when no compiled architecture runs on
// the GPU (loaded_arch, below, is 0).
inline void check_loaded_arch(int device_arch, int loaded_arch,
                              std::string_view compiled_archs) {
  TORCH_CHECK(loaded_arch > 0,
              "mmzoo._ext's CUDA kernels were compiled for compute "
              "capabilities ",
              compiled_archs, ", none of which runs on this GPU (",
              arch_name(device_arch), "); rebuild with TORCH_CUDA_ARCH_LIST=\"",
              arch_name(device_arch), "\"");
}

// half_precision: q is float16 or bfloat16. fits_shared_memory: the
// tensor-core kernel's tiles fit in the GPU's shared memory. device_arch:
// the GPU's compute capability. loaded_arch: the virtual architecture (the
// __CUDA_ARCH__) of the kernel image that the driver loads on this GPU, 0
// when no compiled architecture runs there. compiled_archs: what the
// extension was built for, for the messages. request: the
// MMZOO_WINDOW_ATTENTION_KERNEL variable, "" or "auto" to choose, "simt" or
// "tensor_cores" to force a kernel (the tests reach both on one GPU).
inline AttentionKernel choose_attention_kernel(bool half_precision,
                                               bool fits_shared_memory,
                                               int device_arch,
                                               int loaded_arch,
                                               std::string_view compiled_archs,
                                               std::string_view request) {
  const bool automatic = request.empty() || request == "auto";
  TORCH_CHECK(automatic || request == "simt" || request == "tensor_cores",
              "MMZOO_WINDOW_ATTENTION_KERNEL must be auto, simt or "
              "tensor_cores, got '",
              request, "'");
  check_loaded_arch(device_arch, loaded_arch, compiled_archs);
  // The tensor-core kernels are empty where __CUDA_ARCH__ < 800: an image
  // compiled for an older architecture (PTX that the driver compiles for a
  // newer GPU, say) has none, whatever the GPU.
  std::string why_not;
  if (!half_precision)
    why_not = "they take float16 and bfloat16 only";
  else if (device_arch < 80)
    why_not = "they need compute capability 8.0 or newer, this GPU has " +
              arch_name(device_arch);
  else if (loaded_arch < 80)
    why_not = "the kernels this GPU runs were compiled for compute "
              "capability " +
              arch_name(loaded_arch) + " (the build's list: " +
              std::string(compiled_archs) +
              "), where they are empty; rebuild with TORCH_CUDA_ARCH_LIST "
              "including " +
              arch_name(device_arch);
  else if (!fits_shared_memory)
    why_not = "a window's tiles do not fit in this GPU's shared memory";
  if (request == "simt") return AttentionKernel::kSimt;
  if (automatic)
    return why_not.empty() ? AttentionKernel::kTensorCores
                           : AttentionKernel::kSimt;
  TORCH_CHECK(why_not.empty(),
              "MMZOO_WINDOW_ATTENTION_KERNEL=tensor_cores, but the "
              "tensor-core kernels cannot run: ",
              why_not);
  return AttentionKernel::kTensorCores;
}

}  // namespace mmzoo
