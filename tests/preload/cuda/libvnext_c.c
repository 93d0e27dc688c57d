/* libvnext_c.c: the next vnext_foo in the search order. */
int vnext_foo(void);
int vnext_foo(void) { return 41; }
