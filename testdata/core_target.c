// cflags:
/* Not a program: a user-supplied CO-RE target. Its BTF holds two flavours of
 * the same types that disagree, so relocating core_ambiguous.c against it must
 * report ambiguity, and two identical flavours that agree, which must not. */
#include "core_defs.h"

struct amb {
	int a;
	long long b;
	unsigned int bits : 3;
};

struct amb___other {
	long long b;
	short a;
	int bits : 5;
};

struct same {
	int x;
	int y;
};

struct same___copy {
	int x;
	int y;
};

enum amb_enum {
	AMB_VALUE = 1,
};

enum amb_enum___other {
	AMB_VALUE___other = 2,
};

struct amb target_amb;
struct amb___other target_amb_other;
struct same target_same;
struct same___copy target_same_copy;
enum amb_enum target_enum;
enum amb_enum___other target_enum_other;
