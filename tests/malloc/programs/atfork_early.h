/* atfork_early_handlers.c: blocks its fork handlers have allocated so far. */
long atfork_early_blocks(void);
