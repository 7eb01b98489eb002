build/obj/tools/kwidctl/kwidctl.o: tools/kwidctl/kwidctl.c \
 tools/kwidctl/kwidctl.h include/kwid/util.h
tools/kwidctl/kwidctl.h:
include/kwid/util.h:
