build/obj/tests/unit/test_config.o: tests/unit/test_config.c \
 include/kwid/config.h include/kwid/log.h include/kwid/util.h
include/kwid/config.h:
include/kwid/log.h:
include/kwid/util.h:
