build/obj/userspace/main.o: userspace/main.c include/kwid/admin.h \
 include/kwid/util.h include/kwid/agent.h include/kwid/config.h \
 include/kwid/log.h include/kwid/loop.h include/kwid/privs.h
include/kwid/admin.h:
include/kwid/util.h:
include/kwid/agent.h:
include/kwid/config.h:
include/kwid/log.h:
include/kwid/loop.h:
include/kwid/privs.h:
