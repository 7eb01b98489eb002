build/obj/userspace/privs.o: userspace/privs.c include/kwid/privs.h \
 include/kwid/log.h include/kwid/util.h
include/kwid/privs.h:
include/kwid/log.h:
include/kwid/util.h:
