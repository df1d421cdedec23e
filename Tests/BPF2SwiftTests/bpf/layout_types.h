/* C types whose Swift declarations the layout test checks against clang's sizeof, _Alignof and
 * offsetof. Included by layout.bpf.c (compiled for BPF) and by a host C program the test builds;
 * both are LP64, so the layouts agree. Plain C types only, so the host needs no BPF headers. */
#ifndef LAYOUT_TYPES_H
#define LAYOUT_TYPES_H

struct padded {
	char c;
	long long wide;
	short s;
};

struct nested {
	struct padded inner;
	unsigned char tag;
	int array[3];
};

union number {
	unsigned int u;
	float f;
	unsigned long long wide;
};

struct with_union {
	char kind;
	union number value;
};

struct with_anonymous {
	int a;
	union {
		int b;
		char c[6];
	};
	struct {
		short d;
		short e;
	} pair;
};

struct __attribute__((packed)) packed_header {
	unsigned char kind;
	unsigned int length;
	unsigned short port;
};

struct bitfields {
	unsigned int low : 3;
	unsigned int high : 5;
	unsigned short after;
	unsigned long long tail : 40;
};

enum color { RED, GREEN = 5, BLUE };

struct with_enum {
	enum color color;
	_Bool flag;
	char name[5];
	unsigned long long counters[2];
	double ratio;
};

typedef struct {
	int x;
	int y;
} point_t;

struct shapes {
	point_t corners[2];
	struct packed_header header;
	struct bitfields bits;
	struct with_enum described;
};

struct flow_key {
	unsigned int pid;
	char comm[16];
};

struct flow_value {
	unsigned long long count;
	struct padded last;
	struct nested history;
	struct with_union tagged;
};

#endif
