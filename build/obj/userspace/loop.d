build/obj/userspace/loop.o: userspace/loop.c include/kwid/loop.h \
 include/kwid/log.h include/kwid/util.h
include/kwid/loop.h:
include/kwid/log.h:
include/kwid/util.h:
