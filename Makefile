# Mnemosyne — one plain Makefile (as Redis and LMDB have).
#
#   make            build/mnemo (CLI), build/mnemosyned (server), build/libmnemosyne.a
#   make run        install packages if missing, build, start the server (or CLI demo)
#   make test       install packages if missing, build, run every test (+ ASan/UBSan units,
#                   a short soak, test-asan and test-valgrind; ~4 min)
#   make bench      the benchmarks (not tests; see docs/benchmarks.md)
#   make soak       the crash soak, 100 kill -9 cycles per fsync policy (docs/reliability.md)
#   make test-asan  server + CLI built with ASan+UBSan (build/asan/), integration + CLI suites
#   make test-valgrind  unit tests and a server session under valgrind memcheck
#   make clean
#
# Compiler flags live here and only here. CC=clang works as well as gcc.

CC      ?= cc
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude -Isrc -MMD -MP $(EXTRA_CFLAGS)
LDLIBS  := -llmdb -lpthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
PY      := /usr/bin/python3

BUILD   := build
LIB_SRC := $(wildcard src/util/*.c src/storage/*.c src/engine/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
SRV_SRC := $(wildcard src/server/*.c)
UNIT_SRC:= $(wildcard tests/unit/test_*.c)
CRASH_SRC := $(wildcard tests/crash/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SRV_OBJ := $(SRV_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN:= $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
CRASH_BIN := $(CRASH_SRC:tests/crash/%.c=$(BUILD)/tests/%)

ASAN_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/asan/%.o)
ASAN_UNIT_BIN:= $(UNIT_SRC:tests/unit/%.c=$(BUILD)/asan/tests/%)
ASAN_CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/asan/%.o)
ASAN_SRV_OBJ := $(SRV_SRC:%.c=$(BUILD)/asan/%.o)

PROGRAMS := $(BUILD)/mnemo
ifneq ($(SRV_SRC),)
PROGRAMS += $(BUILD)/mnemosyned
endif

.PHONY: all run test unit unit-asan integration crash bench deps clean soak test-asan test-valgrind
all: $(BUILD)/libmnemosyne.a $(PROGRAMS)

deps:
	@./scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/libmnemosyne.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/asan/libmnemosyne.a: $(ASAN_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mnemo: $(CLI_OBJ) $(BUILD)/libmnemosyne.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mnemosyned: $(SRV_OBJ) $(BUILD)/libmnemosyne.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/mnemo: $(ASAN_CLI_OBJ) $(BUILD)/asan/libmnemosyne.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/mnemosyned: $(ASAN_SRV_OBJ) $(BUILD)/asan/libmnemosyne.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmnemosyne.a tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmnemosyne.a $(LDLIBS)

$(BUILD)/asan/tests/%: tests/unit/%.c $(BUILD)/asan/libmnemosyne.a tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit -o $@ $< $(BUILD)/asan/libmnemosyne.a $(LDLIBS)

$(BUILD)/tests/crash_%: tests/crash/crash_%.c $(BUILD)/libmnemosyne.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libmnemosyne.a $(LDLIBS)

run: deps all
	@./scripts/run.sh

# Every test, each suite ending in one "N passed, N failed" line; the last
# line is the total over all suites (scripts/test.sh).
test: deps all $(UNIT_BIN) $(ASAN_UNIT_BIN) $(CRASH_BIN) $(BUILD)/asan/mnemosyned $(BUILD)/asan/mnemo \
      $(BUILD)/valgrind/mapsize_shim.so
	@./scripts/test.sh

# the crash soak (tests/soak/soak.py): SOAK_CYCLES per phase, default 100
soak: deps all
	@$(PY) tests/soak/soak.py

# integration + CLI suites against the ASan+UBSan server and CLI
test-asan: deps $(BUILD)/asan/mnemosyned $(BUILD)/asan/mnemo
	@./scripts/test-asan.sh

# unit tests and a server session under valgrind memcheck (no leaks, no errors)
test-valgrind: deps all $(UNIT_BIN) $(BUILD)/valgrind/mapsize_shim.so
	@./scripts/test-valgrind.sh

# caps LMDB's 64 GiB map under valgrind (tests/valgrind/mapsize_shim.c)
$(BUILD)/valgrind/mapsize_shim.so: tests/valgrind/mapsize_shim.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fPIC -shared -o $@ $< -ldl

unit: $(UNIT_BIN)
	@./scripts/run-units.sh $(BUILD)/tests

unit-asan: $(ASAN_UNIT_BIN)
	@./scripts/run-units.sh $(BUILD)/asan/tests

bench: all
	@./scripts/install-deps.sh --bench
	@$(MAKE) -s -C bench

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SRV_OBJ:.o=.d) $(ASAN_LIB_OBJ:.o=.d) \
         $(ASAN_CLI_OBJ:.o=.d) $(ASAN_SRV_OBJ:.o=.d)
