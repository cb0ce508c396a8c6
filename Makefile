# Mnemosyne — one plain Makefile (as Redis and LMDB have).
#
#   make            build/mnemo (CLI), build/mnemosyned (server), build/libmnemosyne.a
#   make run        install packages if missing, build, start the server (or CLI demo)
#   make test       install packages if missing, build, run every test (+ ASan/UBSan units)
#   make bench      the benchmarks (not tests; see docs/benchmarks.md)
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

PROGRAMS := $(BUILD)/mnemo
ifneq ($(SRV_SRC),)
PROGRAMS += $(BUILD)/mnemosyned
endif

.PHONY: all run test unit unit-asan integration crash bench deps clean
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
test: deps all $(UNIT_BIN) $(ASAN_UNIT_BIN) $(CRASH_BIN)
	@./scripts/test.sh

unit: $(UNIT_BIN)
	@./scripts/run-units.sh $(BUILD)/tests

unit-asan: $(ASAN_UNIT_BIN)
	@./scripts/run-units.sh $(BUILD)/asan/tests

bench: all
	@./scripts/install-deps.sh --bench
	@$(MAKE) -s -C bench

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SRV_OBJ:.o=.d) $(ASAN_LIB_OBJ:.o=.d)
