build/obj/userspace/log.o: userspace/log.c include/kwid/log.h \
 include/kwid/util.h
include/kwid/log.h:
include/kwid/util.h:
