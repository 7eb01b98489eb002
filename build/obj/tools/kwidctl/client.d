build/obj/tools/kwidctl/client.o: tools/kwidctl/client.c \
 tools/kwidctl/kwidctl.h include/kwid/util.h include/kwid/admin.h \
 include/kwid/sockutil.h
tools/kwidctl/kwidctl.h:
include/kwid/util.h:
include/kwid/admin.h:
include/kwid/sockutil.h:
