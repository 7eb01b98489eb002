build/obj/userspace/config.o: userspace/config.c include/kwid/config.h \
 include/kwid/log.h include/kwid/util.h
include/kwid/config.h:
include/kwid/log.h:
include/kwid/util.h:
