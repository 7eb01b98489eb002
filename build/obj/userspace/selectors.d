build/obj/userspace/selectors.o: userspace/selectors.c \
 include/kwid/selectors.h include/kwid/util.h
include/kwid/selectors.h:
include/kwid/util.h:
