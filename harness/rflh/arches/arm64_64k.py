from dataclasses import replace

from .arm64 import ARCH as ARM64

# arm64 with 64 KiB pages (ARM64_64K_PAGES): the same machine, compiler and
# user space as arm64, one more config fragment. Page size is where
# arch-neutral mm code breaks; `make matrix MATRIX_ARCHES=arm64-64k`.
ARCH = replace(ARM64, name="arm64-64k", extra_configs=("arm64-64k.config",))
