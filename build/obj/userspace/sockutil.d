build/obj/userspace/sockutil.o: userspace/sockutil.c \
 include/kwid/sockutil.h include/kwid/util.h
include/kwid/sockutil.h:
include/kwid/util.h:
