build/obj/userspace/agent.o: userspace/agent.c include/kwid/agent.h \
 include/kwid/config.h include/kwid/log.h include/kwid/util.h \
 include/kwid/loop.h
include/kwid/agent.h:
include/kwid/config.h:
include/kwid/log.h:
include/kwid/util.h:
include/kwid/loop.h:
