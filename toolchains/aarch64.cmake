# Cross-compile for 64-bit ARM Linux (Cortex-A53/A72 boards, Raspberry Pi 3/4/5 64-bit).
# Debian: g++-aarch64-linux-gnu; run results with qemu-aarch64-static.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_PATH /usr/lib/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# The multiarch glibc (libc6:arm64), as for armhf: see armhf-cortex-a8.cmake.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static;-L;/)
