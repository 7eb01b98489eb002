build/obj/userspace/util.o: userspace/util.c include/kwid/util.h
include/kwid/util.h:
