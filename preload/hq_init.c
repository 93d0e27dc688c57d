void hq__preload_placeholder(void); void hq__preload_placeholder(void) {}
