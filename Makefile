# kwid - kernel workload identity.
#
#   make            build build/kwid-agent and build/kwidctl
#   sudo make run   build, then start the agent in the foreground (embedded config)
#   sudo make test  unit tests (cmocka), fuzz smoke runs, integration tests (bats, as root)
#   make deps       install the Debian packages the build and the tests need, and the
#                   Node.js test client's modules (idempotent)
#   make bench      benchmarks (bench/), figures for docs/BENCHMARKS.md
#   make fuzz       build the libFuzzer harnesses (tests/fuzz/)
#   make install    install into $(DESTDIR)$(PREFIX)
#
# WERROR=1 turns warnings into errors (CI sets it).

BUILD      ?= build
PREFIX     ?= /usr/local
DESTDIR    ?=
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PROTOC_C   ?= protoc-c
BATS       ?= bats
NODE       ?= node
NPM        ?= npm
WERROR     ?= 0
FUZZ_SECONDS ?= 10
ARGS       ?=
V          ?= 0
ifeq ($(V),1)
Q :=
else
Q := @
endif

# vmlinux.h is generated from the running kernel's BTF at build time (CO-RE
# makes the result portable). To build on a host without BTF, point
# VMLINUX_BTF at a BTF file copied from any BTF-enabled kernel.
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

WARNINGS := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wvla -Wpointer-arith -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

# Where `make install` puts kwid-wlapi-front; the agent also looks next to itself.
LIBEXECDIR ?= $(PREFIX)/libexec/kwid
CPPFLAGS += -Iinclude -Ibpf -I$(BUILD) -I$(BUILD)/proto -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 \
	-DKWID_LIBEXECDIR='"$(LIBEXECDIR)"'
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARNINGS) -fstack-protector-strong -fPIE -MMD -MP
LDFLAGS  += -pie -Wl,-z,relro,-z,now -Wl,--as-needed
LDLIBS   += -lbpf -lelf -lz -lssl -lcrypto -ljson-c -ltss2-esys -ltss2-tctildr -ltss2-mu \
	-ltss2-rc -lcap -lseccomp -lnghttp2 -lprotobuf-c -lpthread

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
	-I$(BUILD) -Ibpf -Iinclude

# ---- sources ----
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS   := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
PROTOS      := $(wildcard proto/*.proto)
PROTO_C     := $(patsubst proto/%.proto,$(BUILD)/proto/%.pb-c.c,$(PROTOS))
PROTO_WKT   := $(if $(PROTOS),$(BUILD)/proto/google/protobuf/struct.pb-c.c)
GENERATED_H := $(BPF_SKELS) $(PROTO_C:.c=.h) $(PROTO_WKT:.c=.h)

LIB_SRCS    := $(filter-out userspace/main.c userspace/wlapi_front_main.c,$(wildcard userspace/*.c)) \
	$(wildcard attestors/*.c)
LIB_OBJS    := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(BUILD)/obj/userspace/config_default.o \
	$(patsubst $(BUILD)/%.c,$(BUILD)/obj/%.o,$(PROTO_C) $(PROTO_WKT))
CTL_SRCS    := $(wildcard tools/kwidctl/*.c)
CTL_OBJS    := $(patsubst %.c,$(BUILD)/obj/%.o,$(CTL_SRCS))
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
BENCH_SRCS  := $(wildcard bench/*.c)
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

LIBKWID := $(BUILD)/libkwid.a
AGENT   := $(BUILD)/kwid-agent
FRONT   := $(BUILD)/kwid-wlapi-front
KWIDCTL := $(BUILD)/kwidctl

.PHONY: all deps deps-deb deps-node run test unit integration fuzz fuzz-smoke bench bench-bins install uninstall clean check-root
# Generated sources come from pattern rules; without this make deletes them
# as intermediate files after the build and regenerates them every time.
.SECONDARY: $(GENERATED_H) $(PROTO_C) $(PROTO_WKT) $(BPF_OBJS)
.DEFAULT_GOAL := all

all: $(AGENT) $(FRONT) $(KWIDCTL)

# ---- Debian packages ----
DEB_PKGS := gcc make pkg-config clang llvm libclang-rt-14-dev bpftool libbpf-dev libelf-dev \
	zlib1g-dev libssl-dev openssl libjson-c-dev libtss2-dev libtss2-tcti-swtpm0 libcap-dev \
	libseccomp-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev \
	libcmocka-dev bats swtpm swtpm-tools tpm2-tools python3 python3-grpcio python3-grpc-tools \
	python3-cryptography python3-jwt python3-h2 procps util-linux coreutils iproute2 kmod libcap2-bin

deps: deps-deb deps-node

deps-deb:
	@missing=""; \
	for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make deps: missing Debian packages:$$missing (run as root to install)" >&2; exit 1; \
		fi; \
		echo "make deps: installing$$missing"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The second independent gRPC stack of the Workload API tests: @grpc/grpc-js
# (tests/integration/node). node and npm come with the machine, not from
# Debian. The modules are pinned by package-lock.json and installed without
# their install scripts; npm ci runs only when the install stamp is missing
# or older than the lock (npm ci deletes node_modules first, so an
# interrupted install leaves no stamp).
NODE_MIN_MAJOR := 18
NODE_CLIENT    := tests/integration/node
NODE_STAMP     := $(NODE_CLIENT)/node_modules/.kwid-installed

deps-node: | deps-deb
	@v=$$($(NODE) --version 2>/dev/null) || { \
		echo "make deps: '$(NODE)' not found: install Node.js >= $(NODE_MIN_MAJOR) (the Workload API tests run @grpc/grpc-js)" >&2; exit 1; }; \
	major=$${v#v}; major=$${major%%.*}; \
	if ! [ "$$major" -ge $(NODE_MIN_MAJOR) ] 2>/dev/null; then \
		echo "make deps: node $$v is too old: @grpc/grpc-js tests need Node.js >= $(NODE_MIN_MAJOR)" >&2; exit 1; \
	fi; \
	if [ ! -e $(NODE_STAMP) ] || [ $(NODE_STAMP) -ot $(NODE_CLIENT)/package-lock.json ]; then \
		command -v $(NPM) >/dev/null || { \
			echo "make deps: '$(NPM)' not found: it installs @grpc/grpc-js for the tests (comes with Node.js)" >&2; exit 1; }; \
		echo "make deps: npm ci in $(NODE_CLIENT) (node $$v)"; \
		$(NPM) ci --prefix $(NODE_CLIENT) --ignore-scripts --no-audit --no-fund && touch $(NODE_STAMP); \
	fi

# ---- BPF ----
$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	@test -r $(VMLINUX_BTF) || { echo "no BTF at $(VMLINUX_BTF): set VMLINUX_BTF=<file>" >&2; exit 1; }
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	@echo "  BPF     $<"
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name kwid_$(subst -,_,$*) > $@.tmp && mv $@.tmp $@

# ---- protobuf ----
$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	$(PROTOC_C) -Iproto -I/usr/include --c_out=$(BUILD)/proto $<

$(BUILD)/proto/google/protobuf/struct.pb-c.c $(BUILD)/proto/google/protobuf/struct.pb-c.h: /usr/include/google/protobuf/struct.proto
	@mkdir -p $(BUILD)/proto
	$(PROTOC_C) -I/usr/include --c_out=$(BUILD)/proto google/protobuf/struct.proto

# ---- C ----
$(BUILD)/obj/%.o: %.c | $(GENERATED_H)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/proto/%.o: $(BUILD)/proto/%.c | $(GENERATED_H)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(filter-out -Wshadow -Wstrict-prototypes,$(CFLAGS)) -c $< -o $@

$(BUILD)/obj/userspace/config_default.o: userspace/config_default.S packaging/agent.json
	@mkdir -p $(@D)
	$(CC) -c $< -o $@

$(LIBKWID): $(LIB_OBJS)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $^

$(AGENT): $(BUILD)/obj/userspace/main.o $(LIBKWID)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# The unprivileged Workload API front: the same library, but linked with
# --as-needed it maps only nghttp2, protobuf-c, json-c, libcrypto, libseccomp.
$(FRONT): $(BUILD)/obj/userspace/wlapi_front_main.o $(LIBKWID)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(KWIDCTL): $(CTL_OBJS) $(LIBKWID)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBKWID)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

# C drivers of the benchmarks (bench/*.c), linked like the unit tests.
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBKWID)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

bench-bins: $(BENCH_BINS)

# ---- fuzzing (clang, libFuzzer + ASan/UBSan) ----
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -Wall -Wno-unused-parameter
FUZZ_LIB_OBJS := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRCS)) $(BUILD)/obj/userspace/config_default.o \
	$(patsubst $(BUILD)/%.c,$(BUILD)/fuzzobj/%.o,$(PROTO_C) $(PROTO_WKT))

$(BUILD)/fuzzobj/%.o: %.c | $(GENERATED_H)
	@mkdir -p $(@D)
	@echo "  CC-FUZZ $<"
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzzobj/proto/%.o: $(BUILD)/proto/%.c | $(GENERATED_H)
	@mkdir -p $(@D)
	@echo "  CC-FUZZ $<"
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/libkwid-fuzz.a: $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libkwid-fuzz.a
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

fuzz: $(FUZZ_BINS)

# Each harness runs FUZZ_SECONDS on its seed corpus (tests/fuzz/corpus/NAME).
fuzz-smoke: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
		n=$$(basename $$f); corpus=$(BUILD)/fuzz/corpus/$$n; mkdir -p $$corpus; \
		if [ -d tests/fuzz/corpus/$$n ]; then cp -r tests/fuzz/corpus/$$n/. $$corpus/; fi; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 $$corpus >$(BUILD)/fuzz/$$n.log 2>&1 \
			|| { tail -50 $(BUILD)/fuzz/$$n.log; exit 1; }; \
	done

# ---- tests ----
check-root:
	@if [ "$$(id -u)" != 0 ]; then echo "this target needs root (the agent loads BPF programs): use sudo" >&2; exit 1; fi

unit: $(UNIT_BINS)
	@set -e; fail=0; for t in $(UNIT_BINS); do \
		echo "unit: $$t"; $$t || fail=1; \
	done; exit $$fail

# tests/integration/modes/ runs once per tracking mode (forced with
# --tracking-mode); a mode this kernel does not offer is skipped with the
# probe's reason. Every mode runs even when one fails.
TRACKING_MODES := tp_btf raw_tp proc_connector proc_poll

integration: all check-root
	@fail=0; \
	$(BATS) --print-output-on-failure tests/integration || fail=1; \
	for m in $(TRACKING_MODES); do \
		echo "== tracking mode $$m (tests/integration/modes)"; \
		KWID_MODE=$$m $(BATS) --print-output-on-failure tests/integration/modes || fail=1; \
	done; \
	exit $$fail

test: deps
	$(MAKE) all unit
	$(MAKE) fuzz-smoke
	$(MAKE) integration

run: deps check-root
	$(MAKE) all
	exec $(AGENT) $(ARGS)

bench: deps check-root
	$(MAKE) all bench-bins
	@set -e; for b in bench/bench_*.sh; do echo "== $$b"; bash $$b; done

# ---- install ----
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)/etc/kwid $(DESTDIR)/lib/systemd/system
	install -m 0755 $(AGENT) $(DESTDIR)$(PREFIX)/sbin/kwid-agent
	install -m 0755 $(FRONT) $(DESTDIR)$(LIBEXECDIR)/kwid-wlapi-front
	install -m 0755 $(KWIDCTL) $(DESTDIR)$(PREFIX)/bin/kwidctl
	install -m 0644 packaging/agent.json $(DESTDIR)/etc/kwid/agent.json.example
	@# The unit reads /etc/kwid/agent.json: give it one that changes nothing,
	@# and never overwrite the administrator's.
	test -e $(DESTDIR)/etc/kwid/agent.json || \
		printf '// kwid-agent configuration: only the keys you change (see agent.json.example).\n{\n}\n' \
		> $(DESTDIR)/etc/kwid/agent.json
	sed 's|@SBINDIR@|$(PREFIX)/sbin|' packaging/kwid-agent.service.in \
		> $(DESTDIR)/lib/systemd/system/kwid-agent.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/kwid-agent $(DESTDIR)$(PREFIX)/bin/kwidctl \
		$(DESTDIR)$(LIBEXECDIR)/kwid-wlapi-front \
		$(DESTDIR)/etc/kwid/agent.json.example $(DESTDIR)/lib/systemd/system/kwid-agent.service

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/fuzzobj -name '*.d' 2>/dev/null)
