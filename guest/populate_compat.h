/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fallbacks for the guest programs when the C library's headers predate
 * the constants. The values are the uapi ones (asm-generic/mman-common.h,
 * linux/memfd.h).
 */
#ifndef POPULATE_COMPAT_H
#define POPULATE_COMPAT_H

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 4U
#endif

#endif /* POPULATE_COMPAT_H */
