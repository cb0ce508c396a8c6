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
# Lua and SQLite: only the server (projections, src/lua + src/projection) and
# the tests of those layers link them; the library and the CLI do not.
LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS   := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
SCRIPT_LIBS:= $(LUA_LIBS) -lsqlite3 -lm
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude -Isrc $(LUA_CFLAGS) -MMD -MP $(EXTRA_CFLAGS)
LDLIBS  := -llmdb -lpthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
PY      := /usr/bin/python3
# fuzzing (tests/fuzz): libFuzzer needs clang; the replay build is $(CC) $(SAN)
FUZZ_CC     ?= clang
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude -Isrc $(LUA_CFLAGS) -Itests/fuzz -MMD -MP \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_COV    := -fsanitize=fuzzer-no-link   # coverage for the code under test
FUZZ_LINK   := -fsanitize=fuzzer           # libFuzzer's main
FUZZ_RUNS   ?= 10000000
FUZZ_OPTS   ?= -timeout=30 -rss_limit_mb=4096 -print_final_stats=1

BUILD   := build
LIB_SRC := $(wildcard src/util/*.c src/storage/*.c src/engine/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
SRV_SRC := $(wildcard src/server/*.c) $(wildcard src/lua/*.c src/projection/*.c src/saga/*.c)
SCRIPT_SRC := $(wildcard src/lua/*.c src/projection/*.c src/saga/*.c)
SCRIPT_OBJ := $(SCRIPT_SRC:%.c=$(BUILD)/obj/%.o)
ASAN_SCRIPT_OBJ := $(SCRIPT_SRC:%.c=$(BUILD)/asan/%.o)
# unit tests of the script layers (they link Lua and SQLite)
SCRIPT_TESTS := test_sandbox test_saga
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

# hiredis is mnemo's only (remote mode, src/cli/remote*.c); the server and the
# library never link it
CLI_LDLIBS := -lhiredis

$(BUILD)/mnemo: $(CLI_OBJ) $(BUILD)/libmnemosyne.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(CLI_LDLIBS)

$(BUILD)/mnemosyned: $(SRV_OBJ) $(BUILD)/libmnemosyne.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(SCRIPT_LIBS)

$(BUILD)/asan/mnemo: $(ASAN_CLI_OBJ) $(BUILD)/asan/libmnemosyne.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) $(CLI_LDLIBS)

$(BUILD)/asan/mnemosyned: $(ASAN_SRV_OBJ) $(BUILD)/asan/libmnemosyne.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) $(SCRIPT_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmnemosyne.a tests/unit/harness.h tests/unit/store_helpers.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmnemosyne.a $(LDLIBS)

$(BUILD)/asan/tests/%: tests/unit/%.c $(BUILD)/asan/libmnemosyne.a tests/unit/harness.h tests/unit/store_helpers.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit -o $@ $< $(BUILD)/asan/libmnemosyne.a $(LDLIBS)

# unit tests of the server's own code (tests/unit/test_server_*.c) also link
# its objects, main.o aside (as the fuzz targets do)
SRV_TEST_OBJ      := $(filter-out %/main.o,$(SRV_OBJ))
ASAN_SRV_TEST_OBJ := $(filter-out %/main.o,$(ASAN_SRV_OBJ))

$(BUILD)/tests/test_server_%: tests/unit/test_server_%.c $(SRV_TEST_OBJ) $(BUILD)/libmnemosyne.a \
                              tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(SRV_TEST_OBJ) $(BUILD)/libmnemosyne.a $(LDLIBS) $(SCRIPT_LIBS)

$(BUILD)/asan/tests/test_server_%: tests/unit/test_server_%.c $(ASAN_SRV_TEST_OBJ) \
                                   $(BUILD)/asan/libmnemosyne.a tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit -o $@ $< $(ASAN_SRV_TEST_OBJ) $(BUILD)/asan/libmnemosyne.a $(LDLIBS) $(SCRIPT_LIBS)

$(SCRIPT_TESTS:%=$(BUILD)/tests/%): $(BUILD)/tests/%: tests/unit/%.c $(SCRIPT_OBJ) $(BUILD)/libmnemosyne.a tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(SCRIPT_OBJ) $(BUILD)/libmnemosyne.a $(LDLIBS) $(SCRIPT_LIBS)

$(SCRIPT_TESTS:%=$(BUILD)/asan/tests/%): $(BUILD)/asan/tests/%: tests/unit/%.c $(ASAN_SCRIPT_OBJ) $(BUILD)/asan/libmnemosyne.a tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit -o $@ $< $(ASAN_SCRIPT_OBJ) $(BUILD)/asan/libmnemosyne.a $(LDLIBS) $(SCRIPT_LIBS)

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

# ---------------------------------------------------------------- fuzzing
# One libFuzzer target per parser, tests/fuzz/fuzz_<x>.c (see tests/fuzz/fuzz.h
# and docs/reliability.md, Fuzzing):
#   make fuzz          build/fuzz/fuzz_<x>: clang, -fsanitize=fuzzer,address,undefined
#   make fuzz-run      run each target FUZZ_RUNS times (or only FUZZ_TARGET=fuzz_<x>),
#                      one at a time, with tests/fuzz/<x>.dict and <x>.flags if present;
#                      new inputs go to build/fuzz/corpus/<x>, crashes to
#                      build/fuzz/artifacts/ (FUZZ_OPTS=-max_total_time=N caps a run)
#   make fuzz-corpus   rewrite the seed inputs (tests/fuzz/gen_corpus.c)
#   make fuzz-replay   every saved input (tests/fuzz/corpus/<x>/) through an
#                      ASan+UBSan build without libFuzzer, and the reproducers of
#                      known bugs (tests/fuzz/known/<x>/), expected to fail
#                      (tests/fuzz/replay.sh; make test runs it too)
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)
REPLAY_BIN   := $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/%)
FUZZ_OBJ     := $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o) \
                $(filter-out %/main.o,$(SRV_SRC:%.c=$(BUILD)/fuzz/obj/%.o))
REPLAY_DEPS  := $(filter-out %/main.o,$(ASAN_SRV_OBJ)) $(BUILD)/asan/libmnemosyne.a
FUZZ_TARGET  ?= $(FUZZ_NAMES)

.PHONY: fuzz fuzz-run fuzz-replay fuzz-replay-bins fuzz-corpus
fuzz: $(FUZZ_BIN)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COV) -c $< -o $@

$(FUZZ_BIN): $(BUILD)/fuzz/%: $(BUILD)/fuzz/obj/tests/fuzz/%.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LINK) -o $@ $^ $(LDLIBS) $(SCRIPT_LIBS)

fuzz-run: $(FUZZ_BIN)
	@for t in $(FUZZ_TARGET); do \
	    mkdir -p $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/artifacts; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    flags=; [ -f tests/fuzz/$$t.flags ] && flags=$$(cat tests/fuzz/$$t.flags); \
	    echo "== $$t: $(FUZZ_RUNS) runs"; \
	    $(BUILD)/fuzz/$$t -runs=$(FUZZ_RUNS) $(FUZZ_OPTS) $$flags $$dict \
	        -artifact_prefix=$(BUILD)/fuzz/artifacts/$$t- \
	        $(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

$(BUILD)/fuzz-replay/obj/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -Itests/fuzz -c $< -o $@

$(REPLAY_BIN): $(BUILD)/fuzz-replay/%: $(BUILD)/fuzz-replay/obj/%.o \
               $(BUILD)/fuzz-replay/obj/replay_main.o $(REPLAY_DEPS)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) $(SCRIPT_LIBS)

fuzz-replay-bins: $(REPLAY_BIN)

# rewrites the seed inputs of tests/fuzz/corpus (tests/fuzz/gen_corpus.c)
$(BUILD)/fuzz-replay/gen_corpus: tests/fuzz/gen_corpus.c $(BUILD)/libmnemosyne.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libmnemosyne.a $(LDLIBS)

fuzz-corpus: $(BUILD)/fuzz-replay/gen_corpus
	$(BUILD)/fuzz-replay/gen_corpus tests/fuzz/corpus

fuzz-replay:
	@./tests/fuzz/replay.sh

-include $(FUZZ_OBJ:.o=.d) $(FUZZ_NAMES:%=$(BUILD)/fuzz/obj/tests/fuzz/%.d) \
         $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/obj/%.d)
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SRV_OBJ:.o=.d) $(ASAN_LIB_OBJ:.o=.d) \
         $(ASAN_CLI_OBJ:.o=.d) $(ASAN_SRV_OBJ:.o=.d)
