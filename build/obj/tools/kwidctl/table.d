build/obj/tools/kwidctl/table.o: tools/kwidctl/table.c \
 tools/kwidctl/kwidctl.h include/kwid/util.h
tools/kwidctl/kwidctl.h:
include/kwid/util.h:
