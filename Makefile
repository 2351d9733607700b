# Makefile - build, test, install sinkd
#
#	make			build src/sinkd (runs configure first if needed)
#	make check		build and run the whole test suite with prove
#	make sanitize		build with ASan+UBSan and run the suite
#	make run		run sinkd in the foreground on etc/sinkd.conf
#	make install		PREFIX=/usr/local DESTDIR= (see README)
#	make deb-check		build the Debian package from a copy of the
#				tree, install, run and purge it in a throwaway
#				Debian root (t/deb/; as root, needs the archive)

-include config.mk

PREFIX ?= $(prefix)
SYSCONFDIR ?= $(sysconfdir)
WARN = -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-nonliteral
OPT ?= -O2 -g
ifeq ($(SANITIZE),1)
OPT = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_LDFLAGS = -fsanitize=address,undefined
endif
ALL_CFLAGS = $(OPT) $(WARN) -std=gnu11 -D_GNU_SOURCE -MMD -MP -Iinclude \
	-DSINKD_VERSION='"$(VERSION)"' -DSINKD_SYSCONFDIR='"$(SYSCONFDIR)"' \
	$(DEPS_CFLAGS) $(CPPFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_LDFLAGS)

CORE_SRCS = src/sink.c src/sinkapi.c src/sink_proc.c src/cidr.c src/chain.c src/conf.c src/edits.c src/hrule.c src/log.c src/mime.c \
	src/match.c src/message.c src/milter.c src/offline.c src/policy.c \
	src/dirs.c src/pidfile.c src/privs.c src/reply.c src/rx.c src/socket.c src/spool.c src/room.c src/template.c \
	src/event.c src/event_webhook.c src/event_redis.c src/event_postgres.c src/journal.c \
	src/event_archive.c src/astore.c src/astore_maildir.c src/astore_sql.c src/resolve.c \
	src/stats.c src/metrics.c src/dkim.c src/dkcanon.c src/arc.c
CORE_SRCS += src/status.c src/control.c
CORE_SRCS += src/final.c
HANDLER_SRCS = milters/registry.c milters/protocol.c milters/disclaimer.c \
	milters/smime.c milters/clamav.c milters/engine.c milters/clamd.c \
	milters/quarantine.c milters/rewrite.c milters/textrw.c milters/dkim.c milters/dkim_arc.c \
	milters/slots.c
HANDLER_SRCS += milters/archive.c
HANDLER_SRCS += milters/dkimsign.c
# Lua sinks (sinkd-lua(5)), when configure found lua5.4
ifeq ($(WITH_LUA),yes)
CORE_SRCS += src/sink_lua.c src/sink_luamod.c
DEPS_CFLAGS += $(LUA_CFLAGS) -DSINKD_WITH_LUA
DEPS_LIBS += $(LUA_LIBS)
endif
CORE_OBJS = $(CORE_SRCS:.c=.o) $(HANDLER_SRCS:.c=.o)
TOOLS = tools/sinkd-quarantine tools/sinkd-archive tools/sinkd-list
UNIT_TESTS = t/unit/util_test t/unit/policy_test t/unit/chain_test t/unit/clamd_test t/unit/journal_test \
	t/unit/stats_test t/unit/slots_test \
	t/unit/quarantine_test t/unit/textrw_test t/unit/archive_test t/unit/resolve_test \
	t/unit/dkim_test t/unit/arc_test t/unit/dsn_test t/unit/dmarc_test
ifeq ($(WITH_LUA),yes)
UNIT_TESTS += t/unit/sinklua_test
BENCH_TOOLS = bench/luapar
endif
TEST_TOOLS = t/unit/mimewarn bench/milterload t/unit/arctool t/unit/room_test t/unit/scanshim.so
# sinks the tests load: built against the public header alone
TEST_SINKS = t/sinks/probe.so t/sinks/mark.so t/sinks/badabi.so t/sinks/badkeys.so \
	t/sinks/events.so t/sinks/abi10.so
# the sinks sinkd ships (etc/sinks/, sinkd-sinks(7)); the native
# one is built as a third party would: against the installed header alone
# (staged into sink-stage/ as make install puts it), never src/ or include/
SHIPPED_SINKS = etc/sinks/attachhash.so
# the list service: a native sink sinkd ships, and its tool (lists/,
# sinkd-list(8)); the module is built against the public header, with
# code of its own and the two helpers it shares with the tools
LIST_SINK = lists/lists.so
LIST_SRCS = lists/store.c lists/lists.c lists/dsn.c lists/dmarc.c tools/reinject.c src/template.c
LIST_OBJS = $(LIST_SRCS:.c=.o)
SHIPPED_LUA = sinks/display-name-spoof.lua sinks/dlp.lua sinks/internal-names.example
SINK_STAGE = sink-stage

.PHONY: all check sanitize run install clean distclean tests

all: src/sinkd $(TOOLS) $(SHIPPED_SINKS) $(LIST_SINK)

config.mk: configure.ac config.mk.in
	autoreconf -fi
	./configure

%.o: %.c config.mk
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

src/sinkd: src/main.o $(CORE_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ src/main.o $(CORE_OBJS) $(DEPS_LIBS)

tools/sinkd-quarantine: tools/sinkd-quarantine.o tools/reinject.o $(CORE_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEPS_LIBS)

tools/sinkd-archive: tools/sinkd-archive.o $(CORE_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEPS_LIBS)

tools/sinkd-list: lists/sinkd-list.o $(LIST_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIST_LIBS)

$(LIST_SINK): lists/sink.c $(LIST_SRCS) lists/lists.h lists/store.h tools/reinject.h \
		src/template.h include/sinkd/sink.h config.mk
	$(CC) $(OPT) $(WARN) -std=gnu11 -D_GNU_SOURCE -fPIC -shared -Iinclude $(DEPS_CFLAGS) \
		$(CPPFLAGS) $(LDFLAGS) $(SAN_LDFLAGS) -Wl,-z,defs -o $@ lists/sink.c $(LIST_SRCS) $(LIST_LIBS)

# the list service's modules, on their own
t/unit/dsn_test: t/unit/dsn_test.o t/unit/tap.o lists/dsn.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIST_LIBS)

t/unit/dmarc_test: t/unit/dmarc_test.o t/unit/tap.o lists/dmarc.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIST_LIBS) -lpthread

# clamd_test defines its own scan_set(): not linked with the handlers
t/unit/clamd_test: t/unit/clamd_test.o t/unit/tap.o milters/clamd.o src/log.o src/stats.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEPS_LIBS)

t/unit/%: t/unit/%.o t/unit/tap.o $(CORE_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $< t/unit/tap.o $(CORE_OBJS) $(DEPS_LIBS)

t/unit/mimewarn: t/unit/mimewarn.o
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(DEPS_LIBS)

# the benchmark's load generator also drives t/negotiate.t and t/hostile.t;
# a tool of the tests, not under test: built without the sanitizers (it
# keeps what it read until exit, which LeakSanitizer would count)
# Lua sinks on 1 to N threads (hooks per second): make bench/luapar
bench/luapar: bench/luapar.o $(CORE_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ bench/luapar.o $(CORE_OBJS) $(DEPS_LIBS)

bench/milterload: bench/milterload.c bench/measure.h
	$(CC) -O2 -g $(WARN) -std=gnu11 -D_GNU_SOURCE $(CFLAGS) $(LDFLAGS) \
		-o $@ bench/milterload.c -pthread

# t/scan-slots.t's LD_PRELOAD stand-in for cl_scanmap_callback(): a tool
# of the test, built without the sanitizers (it is preloaded before them)
t/unit/scanshim.so: t/unit/scanshim.c
	$(CC) -O2 -g $(WARN) -std=gnu11 -D_GNU_SOURCE -fPIC -shared $(DEPS_CFLAGS) \
		-o $@ t/unit/scanshim.c -ldl -pthread

t/sinks/%.so: t/sinks/%.c include/sinkd/sink.h
	$(CC) $(OPT) $(WARN) -std=gnu11 -fPIC -shared -I include $(SAN_LDFLAGS) -o $@ $<

$(SINK_STAGE)/include/sinkd/sink.h: include/sinkd/sink.h
	install -d $(SINK_STAGE)/include/sinkd
	install -m 644 include/sinkd/sink.h $@

etc/sinks/%.so: etc/sinks/%.c $(SINK_STAGE)/include/sinkd/sink.h
	$(CC) $(OPT) $(WARN) -std=gnu11 -fPIC -shared $(CPPFLAGS) -I$(SINK_STAGE)/include \
		$(LDFLAGS) $(SAN_LDFLAGS) -o $@ $< -lcrypto

tests: src/sinkd $(TOOLS) $(UNIT_TESTS) $(TEST_TOOLS) $(TEST_SINKS) $(SHIPPED_SINKS) $(LIST_SINK)

check: tests
	prove $(PROVE_FLAGS) t/*.t

# LeakSanitizer needs the slow unwinder to see through GLib's frames
# (t/lsan.supp: leaks of libraries, not sinkd's, copied where the
# daemon's user can read it after the privilege drop)
sanitize:
	$(MAKE) clean
	supp=$$(mktemp "$${TMPDIR:-/tmp}/sinkd-lsan.XXXXXX") && chmod 644 "$$supp" && \
	cp t/lsan.supp "$$supp" && \
	ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=1:abort_on_error=0 \
	LSAN_OPTIONS=suppressions="$$supp":print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(MAKE) SANITIZE=1 check; rc=$$?; rm -f "$$supp"; exit $$rc
	$(MAKE) clean

# the Debian package (debian/), built from a copy of the tree and tried
# installed in a Debian root of its own: slow, so not part of make check
.PHONY: deb-check
deb-check:
	prove $(PROVE_FLAGS) t/deb/*.t

# the benchmark (as root; see bench/run)
.PHONY: bench bench-sink bench-dkim bench-fulldb bench-postfix
bench: all
	bench/run

# the CPU a no-op native or Lua sink adds to the chain (bench/sinkcost)
bench-sink: src/sinkd bench/milterload
	bench/sinkcost

# the CPU DKIM verification and signing add to the chain (bench/dkim)
bench-dkim: src/sinkd bench/milterload
	bench/dkim

# sinkd and clamd with a signature database of production size: load,
# reload, memory, scan cost (bench/fulldb; the database from bench/gen-db)
bench-fulldb: src/sinkd bench/milterload
	bench/fulldb

# sinkd and its peers through a real Postfix, as root (bench/postfix)
bench-postfix: src/sinkd
	bench/postfix

run: src/sinkd
	./src/sinkd -f -c etc/sinkd.conf

# make install: programs, man pages, the configuration (never over files
# that exist), the example domain policies (domains.example/), the MTA
# snippets and the systemd unit; as root with DESTDIR empty, the sinkd user
# too.  What is left to do is printed at the end (README, "Installing").
SYSTEMDUNITDIR ?= /etc/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/sinkd
LIBDIR ?= $(PREFIX)/lib
SINKD_USER ?= sinkd
# co-process sinks shipped as examples, and the Python helper they import
# (programs, not configuration: sinkd-sink-protocol(7))
SINKSDIR ?= $(PREFIX)/lib/sinkd/sinks
CONFFILES = sinkd.conf domains/default.conf lists/example.com.lists \
	disclaimer.txt disclaimer.html

install: src/sinkd $(TOOLS) $(SHIPPED_SINKS) $(LIST_SINK) $(LIST_SINK)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(SYSCONFDIR)/sinkd/domains \
		$(DESTDIR)$(SYSCONFDIR)/sinkd/lists $(DESTDIR)$(SYSCONFDIR)/sinkd/domains.example \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(DOCDIR)
	install -m 755 src/sinkd $(DESTDIR)$(PREFIX)/sbin/sinkd
	install -m 755 tools/sinkd-quarantine $(DESTDIR)$(PREFIX)/sbin/sinkd-quarantine
	install -m 755 tools/sinkd-archive $(DESTDIR)$(PREFIX)/sbin/sinkd-archive
	install -m 755 tools/sinkd-list $(DESTDIR)$(PREFIX)/sbin/sinkd-list
	install -m 644 man/sinkd.8 man/sinkd-quarantine.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 man/sinkd-archive.8 man/sinkd-list.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 man/sinkd.conf.5 man/sinkd-policy.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -d $(DESTDIR)$(PREFIX)/include/sinkd $(DESTDIR)$(PREFIX)/share/man/man3
	install -m 644 include/sinkd/sink.h $(DESTDIR)$(PREFIX)/include/sinkd/sink.h
	install -m 644 man/sinkd-sink.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 man/sinkd-lua.5 man/sinkd-events.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -d $(DESTDIR)$(PREFIX)/share/man/man7 $(DESTDIR)$(SINKSDIR)
	install -m 644 man/sinkd-sinks.7 man/sinkd-sink-protocol.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 755 etc/sinks/dlp.py $(DESTDIR)$(SINKSDIR)/dlp.py
	install -m 644 etc/sinks/sinkd_sink.py $(DESTDIR)$(SINKSDIR)/sinkd_sink.py
	@for f in $(CONFFILES); do \
		if [ -e $(DESTDIR)$(SYSCONFDIR)/sinkd/$$f ]; then \
			echo "kept $(DESTDIR)$(SYSCONFDIR)/sinkd/$$f (the shipped one: $(DOCDIR)/etc/$$f)"; \
		else \
			echo "install -m 644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/sinkd/$$f"; \
			install -m 644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/sinkd/$$f || exit 1; \
		fi; done
	install -m 644 etc/domains/*.conf $(DESTDIR)$(SYSCONFDIR)/sinkd/domains.example/
	install -d $(DESTDIR)$(SYSCONFDIR)/sinkd/sinks $(DESTDIR)$(LIBDIR)/sinkd/sinks \
		$(DESTDIR)$(DOCDIR)/etc/sinks
	@for f in $(SHIPPED_LUA); do \
		if [ -e $(DESTDIR)$(SYSCONFDIR)/sinkd/$$f ]; then \
			echo "kept $(DESTDIR)$(SYSCONFDIR)/sinkd/$$f (the shipped one: $(DOCDIR)/etc/$$f)"; \
		else \
			echo "install -m 644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/sinkd/$$f"; \
			install -m 644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/sinkd/$$f || exit 1; \
		fi; \
		install -m 644 etc/$$f $(DESTDIR)$(DOCDIR)/etc/$$f || exit 1; done
	install -m 644 etc/sinks/attachhash.c $(DESTDIR)$(DOCDIR)/etc/sinks/
	install -m 755 $(SHIPPED_SINKS) $(LIST_SINK) $(DESTDIR)$(LIBDIR)/sinkd/sinks/
	install -d $(DESTDIR)$(DOCDIR)/etc/domains $(DESTDIR)$(DOCDIR)/etc/lists
	for f in $(CONFFILES) postfix-main.cf sendmail.mc; do \
		install -m 644 etc/$$f $(DESTDIR)$(DOCDIR)/etc/$$f || exit 1; done
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 755 etc/consumers/traffic.py $(DESTDIR)$(DOCDIR)/examples/traffic.py
	@if [ -n "$(SYSTEMDUNITDIR)" ]; then \
		u=$(DESTDIR)$(SYSTEMDUNITDIR)/sinkd.service; \
		install -d $(DESTDIR)$(SYSTEMDUNITDIR) || exit 1; \
		sed -e 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' \
		    -e 's|/usr/local/etc/sinkd/|$(SYSCONFDIR)/sinkd/|g' \
		    etc/sinkd.service >$$u.new || exit 1; \
		if [ -e $$u ] && ! cmp -s $$u $$u.new; then \
			echo "kept $$u (the new one: $$u.new)"; \
		else \
			echo "install -m 644 etc/sinkd.service $$u"; \
			mv $$u.new $$u && chmod 644 $$u || exit 1; \
		fi; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && ! id $(SINKD_USER) >/dev/null 2>&1; then \
		echo "creating the system user $(SINKD_USER)"; \
		if command -v adduser >/dev/null && adduser --help 2>&1 | grep -q -- --system; then \
			adduser --system --group --no-create-home --home /nonexistent \
				--quiet $(SINKD_USER) || exit 1; \
		else \
			useradd --system --user-group --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin $(SINKD_USER) || exit 1; \
		fi; \
	fi
	@echo; echo "What make install leaves to you:"; \
	if [ -n "$(DESTDIR)" ] || ! id $(SINKD_USER) >/dev/null 2>&1; then \
		echo "  adduser --system --group --no-create-home --home /nonexistent $(SINKD_USER)"; \
	fi; \
	echo "  adduser postfix $(SINKD_USER)    (the socket is for that group)"; \
	echo "  $(PREFIX)/sbin/sinkd -n -c $(SYSCONFDIR)/sinkd/sinkd.conf    (check the configuration)"; \
	echo "  systemctl daemon-reload && systemctl enable --now sinkd"; \
	echo "  the lines sinkd logs at start (journalctl -u sinkd) into Postfix's main.cf, then: postfix reload"

clean:
	rm -f src/*.o src/*.d milters/*.o milters/*.d tools/*.o tools/*.d \
		lists/*.o lists/*.d $(LIST_SINK) \
		t/unit/*.o t/unit/*.d bench/*.d $(TOOLS) \
		src/sinkd $(UNIT_TESTS) $(TEST_TOOLS) $(TEST_SINKS) $(SHIPPED_SINKS)
	rm -rf $(SINK_STAGE)
	rm -rf t/work
	rm -f bench/*.o $(BENCH_TOOLS)
	rm -rf fuzz/obj fuzz/work $(FUZZ_TARGETS)

distclean: clean
	rm -rf config.mk config.status config.log configure autom4te.cache aclocal.m4

-include $(wildcard src/*.d milters/*.d tools/*.d lists/*.d t/unit/*.d)

# ---------------------------------------------------------------------------
# Fuzzing (HACKING.md, "Fuzzing")
#
#	make fuzz		build the libFuzzer targets with clang, run each
#				FUZZ_TIME seconds (fuzz/run); fails on a finding
#
# The targets link their own copy of the sources, built by clang with
# coverage and ASan+UBSan into fuzz/obj/, apart from the gcc build.

FUZZ_CC = clang
FUZZ_TIME = 60
FUZZ_TARGETS = fuzz/fuzz_message fuzz/fuzz_conf fuzz/fuzz_policy fuzz/fuzz_milter
# DKIM verification over a message, and the changes it may hold back
FUZZ_TARGETS += fuzz/fuzz_dkim
# ARC validation and sealing over hostile ARC fields (src/arc.c)
FUZZ_TARGETS += fuzz/fuzz_arc
# the list service's bounce parser and DMARC record parser (lists/)
FUZZ_TARGETS += fuzz/fuzz_dsn fuzz/fuzz_dmarc
# a Lua sink's script and a message (fuzz/fuzz_sink.c), under small limits
ifeq ($(WITH_LUA),yes)
FUZZ_TARGETS += fuzz/fuzz_sink
FUZZ_LUA = -DSLUA_MEM_DEF='"16m"' -DSLUA_INSN_DEF='"1000000"'
endif
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
# clang, unlike gcc, warns of the {NULL} that ends each key table
FUZZ_CFLAGS = -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(WARN) \
	-Wno-missing-field-initializers -std=gnu11 \
	-D_GNU_SOURCE -MMD -MP -Iinclude -DSINKD_VERSION='"$(VERSION)"' \
	-DSINKD_SYSCONFDIR='"$(SYSCONFDIR)"' -DFUZZ_TOP='"$(CURDIR)"' -DSINKD_FUZZ \
	$(FUZZ_LUA) $(DEPS_CFLAGS) $(CPPFLAGS)
FUZZ_OBJS = $(patsubst %.c,fuzz/obj/%.o,$(CORE_SRCS) $(HANDLER_SRCS) fuzz/fuzz.c)

.PHONY: fuzz fuzz-build

fuzz: fuzz-build
	fuzz/run $(FUZZ_TIME) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS)

fuzz/obj/%.o: %.c config.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_TARGETS): fuzz/fuzz_%: fuzz/obj/fuzz/fuzz_%.o $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(DEPS_LIBS)

fuzz/fuzz_dsn: fuzz/obj/lists/dsn.o
fuzz/fuzz_dmarc: fuzz/obj/lists/dmarc.o
fuzz/fuzz_dmarc: DEPS_LIBS += $(LIST_LIBS)

-include $(wildcard fuzz/obj/*/*.d)
