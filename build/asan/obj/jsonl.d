build/asan/obj/jsonl.o: src/jsonl.c src/jsonl.h src/util.h
src/jsonl.h:
src/util.h:
