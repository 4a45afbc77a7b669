# Cross-compile for ARMv7 Cortex-A8 with NEON, hard float (BeagleBone Black + Bela).
# Debian: g++-arm-linux-gnueabihf; run results with qemu-arm-static.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7-a)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-a8 -mfpu=neon -mfloat-abi=hard")
set(CMAKE_CXX_FLAGS_INIT "-mcpu=cortex-a8 -mfpu=neon -mfloat-abi=hard")
# Target libraries (multiarch packages such as libprotobuf32:armhf) live here.
set(CMAKE_LIBRARY_PATH /usr/lib/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Run under qemu with the multiarch glibc (libc6:armhf, /lib/ld-linux-armhf.so.3),
# not the cross toolchain's copy in /usr/arm-linux-gnueabihf: with that one,
# threads and forked children crash under qemu-user 7.2.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm-static;-L;/)
