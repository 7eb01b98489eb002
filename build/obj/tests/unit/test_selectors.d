build/obj/tests/unit/test_selectors.o: tests/unit/test_selectors.c \
 include/kwid/selectors.h include/kwid/util.h
include/kwid/selectors.h:
include/kwid/util.h:
