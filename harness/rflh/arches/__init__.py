"""One module per architecture, each defining ARCH = rflh.arch.Arch(...)."""
