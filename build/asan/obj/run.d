build/asan/obj/run.o: src/run.c src/run.h src/util.h
src/run.h:
src/util.h:
