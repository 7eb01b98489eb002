build/obj/tests/unit/test_loop.o: tests/unit/test_loop.c \
 include/kwid/loop.h include/kwid/util.h
include/kwid/loop.h:
include/kwid/util.h:
