// The explicit API from the installed header and library, in C++.
#include <arena.h>

#include <cstdio>

int main() {
    arena_t *a = arena_create(nullptr);
    if (!a) return 1;
    void *p = arena_calloc(a, 10, 10);
    if (!p || static_cast<unsigned char *>(p)[99] != 0) return 2;
    arena_free(a, p);
    int broken = arena_check(a);
    arena_destroy(a);
    std::puts("explicit C++: ok");
    return broken ? 4 : 0;
}
