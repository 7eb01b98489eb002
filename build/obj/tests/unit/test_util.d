build/obj/tests/unit/test_util.o: tests/unit/test_util.c \
 include/kwid/util.h
include/kwid/util.h:
