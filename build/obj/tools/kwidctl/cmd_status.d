build/obj/tools/kwidctl/cmd_status.o: tools/kwidctl/cmd_status.c \
 tools/kwidctl/kwidctl.h include/kwid/util.h
tools/kwidctl/kwidctl.h:
include/kwid/util.h:
