# Four tiers under ctest, by label:
#   unit        tests/unit/LAYER/test_*.c   C, one file per engine concern, in the folder of its layer
#               (may #include the .c under test)
#   script      tests/lua/*_spec.lua  run by `tallysync run` in the real sandbox with the real modules
#   integration tests/integration/*.sh drive the real binary over real HTTP / real files
#   browser     tests/browser/*.sh  the console in Debian's chromium (playwright-core), plain build only
# Every test runs from the source root with a private TMPDIR-like scratch folder.

# The tests' one door to the store (tests/tools/store_sql.c): SQL through engine/adapt/store.h,
# rows printed as `sqlite3 DB "SQL"` prints them; the shell tests call it through
# tests/integration/lib/store.sh (sq, sq_at), never the sqlite3 command but for SQLite's own lines.
add_executable(store_sql ${PROJECT_SOURCE_DIR}/tests/tools/store_sql.c)
target_link_libraries(store_sql PRIVATE tallycore)

set(ENG_TEST_ENV
  "TALLYSYNC_BIN=$<TARGET_FILE:tallysync>"
  "STORE_SQL_BIN=$<TARGET_FILE:store_sql>"
  "ENG_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  "SCRIPTS_DIR=${PROJECT_SOURCE_DIR}/scripts"
  "MAPPINGS_DIR=${PROJECT_SOURCE_DIR}/mappings"
  "SCHEMA_DIR=${PROJECT_SOURCE_DIR}/schema"
  "FIXTURES_DIR=${PROJECT_SOURCE_DIR}/tests/fixtures"
  "ALLOW_PRIVATE_TARGETS=1"  # every mock listens on loopback; production refuses it (ssrf.sh)
  # tests that record elapsed times write them here; run by hand they update bench/results
  "BENCH_RESULTS_DIR=${CMAKE_BINARY_DIR}/bench-results"
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")

file(GLOB UNIT_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/*/test_*.c)
# The PostgreSQL store's tests (test_*_pg.c) need a running server: they are registered only
# with ENG_TEST_PG, which tools/test.sh's plain tier sets after starting one (tools/pg_server.sh)
# and exporting TALLYSYNC_TEST_PG_URL. Run without the URL they fail, saying the server is missing.
list(FILTER UNIT_TESTS EXCLUDE REGEX "/test_[a-z_]*_pg\\.c$")
if(ENG_TEST_PG)
  file(GLOB UNIT_TESTS_PG CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/*/test_*_pg.c)
  list(APPEND UNIT_TESTS ${UNIT_TESTS_PG})
endif()
foreach(src ${UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
  target_link_libraries(${name} PRIVATE tallycore)
  add_test(NAME unit.${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(unit.${name} PROPERTIES LABELS unit ENVIRONMENT "${ENG_TEST_ENV}" TIMEOUT 120)
endforeach()

# The data layer's tests (tests/unit/data/, on tests/unit/store_fixture.h) run a second time on
# PostgreSQL, as unit.pg.NAME: STORE_FIXTURE_PG=1 makes each store a fresh schema in the server
# TALLYSYNC_TEST_PG_URL names (the fixture fails, saying so, when it is missing).
if(ENG_TEST_PG)
  file(GLOB DATA_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/data/test_*.c)
  foreach(src ${DATA_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_test(NAME unit.pg.${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(unit.pg.${name} PROPERTIES LABELS unit TIMEOUT 120
      ENVIRONMENT "${ENG_TEST_ENV};STORE_FIXTURE_PG=1")
  endforeach()
endif()

file(GLOB LUA_SPECS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/lua/*_spec.lua)
foreach(spec ${LUA_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME script.${name} COMMAND tallysync run ${spec} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # Each spec gets its own fresh SQLite file (migrated by `run` at start).
  file(REMOVE ${CMAKE_BINARY_DIR}/script-${name}.db)
  # db_spec's value-cap case builds strings of up to 64 MiB in SQLite: on a loaded machine that
  # can outlast the default 2 s script budget, and the case is about the cap, not the time.
  set(spec_env "")
  if(name STREQUAL "db_spec")
    set(spec_env ";SCRIPT_TIMEOUT_MS=30000")
  endif()
  set_tests_properties(script.${name} PROPERTIES LABELS script TIMEOUT 120
    ENVIRONMENT "${ENG_TEST_ENV};DATABASE_URL=sqlite:${CMAKE_BINARY_DIR}/script-${name}.db${spec_env}")
endforeach()

file(GLOB INTEGRATION_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/integration/*.sh)
foreach(t ${INTEGRATION_TESTS})
  get_filename_component(name ${t} NAME_WE)
  add_test(NAME integration.${name} COMMAND bash ${t} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(integration.${name} PROPERTIES LABELS integration ENVIRONMENT "${ENG_TEST_ENV}" TIMEOUT 300)
endforeach()

# The console's browser tests (tests/browser/*.sh: the real engine serving web/dist, the mocks,
# Debian's chromium driven by playwright-core) run in the plain build only: the sanitizer tiers
# cover the C they reach through the API tests. Screenshots go to the build folder (by hand:
# docs/screenshots, which the README links).
if(NOT ENG_SANITIZE)
  file(GLOB BROWSER_TESTS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/browser/*.sh)
  foreach(t ${BROWSER_TESTS})
    get_filename_component(name ${t} NAME_WE)
    add_test(NAME browser.${name} COMMAND bash ${t} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(browser.${name} PROPERTIES LABELS browser TIMEOUT 600
      ENVIRONMENT "${ENG_TEST_ENV};SCREENSHOTS_DIR=${CMAKE_BINARY_DIR}/screenshots")
  endforeach()
endif()

# The 10,000-order reconciliation corpus runs whole in the plain build; under the sanitizers a
# 2,000-order slice of the same seeded corpus checks the same code for memory errors.
if(ENG_SANITIZE AND TEST integration.corpus_reconcile)
  set_tests_properties(integration.corpus_reconcile PROPERTIES
    ENVIRONMENT "${ENG_TEST_ENV};CORPUS_COUNT=2000")
endif()

# The webhook exactness rounds under the sanitizers: 2 rounds (one per WEBHOOK_SYNC mode).
if(ENG_SANITIZE AND TEST integration.webhook_exactness)
  set_tests_properties(integration.webhook_exactness PROPERTIES
    ENVIRONMENT "${ENG_TEST_ENV};WEBHOOK_EXACTNESS_ROUNDS=2")
endif()

# The orchestrator's Done-when figures at full size in the plain build (a 1,000-order full run;
# twenty SIGKILLs during a run); under the sanitizers the same tests at their smaller defaults.
if(NOT ENG_SANITIZE)
  set_tests_properties(integration.sync_e2e PROPERTIES
    ENVIRONMENT "${ENG_TEST_ENV};SYNC_E2E_ORDERS=1000" TIMEOUT 900)
  set_tests_properties(integration.sync_crash PROPERTIES
    ENVIRONMENT "${ENG_TEST_ENV};SYNC_CRASH_KILLS=20" TIMEOUT 900)
endif()

# sync_defaults drives a dozen full runs against the strict mocks: 170-260 s on a loaded 2-core
# machine, too close to the default 300 s.
if(TEST integration.sync_defaults)
  set_tests_properties(integration.sync_defaults PROPERTIES TIMEOUT 600)
endif()

# valgrind cannot run a sanitized binary: these run in the plain build only.
if(NOT ENG_SANITIZE)
  add_test(NAME valgrind.dryrun COMMAND bash ${PROJECT_SOURCE_DIR}/tests/valgrind/dryrun.sh
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(valgrind.dryrun PROPERTIES LABELS integration TIMEOUT 600
    ENVIRONMENT "${ENG_TEST_ENV};DATABASE_URL=sqlite:${CMAKE_BINARY_DIR}/valgrind.db")
endif()

# bench/run.sh --quick: every benchmark once at small N, each result in the contract's shape,
# the report renders (tests/bench/run_quick.sh; no timing asserted). Plain build only: a
# sanitizer's slowdown is not what the benches measure.
if(NOT ENG_SANITIZE)
  add_test(NAME integration.bench_quick COMMAND bash ${PROJECT_SOURCE_DIR}/tests/bench/run_quick.sh
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(integration.bench_quick PROPERTIES LABELS integration TIMEOUT 600
    ENVIRONMENT "${ENG_TEST_ENV}")
endif()

# The layer check's own test: small trees with and without a violation (tools/check_layers.py;
# the check of engine/ itself runs in tools/test.sh's first tier).
add_test(NAME unit.check_layers COMMAND bash ${PROJECT_SOURCE_DIR}/tests/tools/check_layers_test.sh
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.check_layers PROPERTIES LABELS unit ENVIRONMENT "${ENG_TEST_ENV}" TIMEOUT 60)

# The mappings' data tests (mappings/tests/NAME/*.json) through `tallysync test`.
add_test(NAME script.mapping_cases COMMAND tallysync test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(script.mapping_cases PROPERTIES LABELS script ENVIRONMENT "${ENG_TEST_ENV}" TIMEOUT 120)

# The fault suite (a disk filled, a database made read-only, during a burst and a run, each with
# a restart): about 75 s in the plain build, slower under the sanitizers.
if(TEST integration.faults)
  set_tests_properties(integration.faults PROPERTIES TIMEOUT 600)
endif()

# Tests that bind, or would bind on a regression, the default API_PORT 8923 (a start refused
# only by its configuration; demo's tools/start.sh defaults): one at a time.
foreach(t defaults demo api_auth webhook_health)
  if(TEST integration.${t})
    set_tests_properties(integration.${t} PROPERTIES RESOURCE_LOCK port8923)
  endif()
endforeach()

# The streaming dry run maps 42,000 orders with the standard mapping (~30 CPU s): room for a
# loaded machine. Under the sanitizers: 2,000 records, peak RSS not compared (ASan's quarantine
# and shadow memory are not the engine's).
if(TEST integration.dryrun_stream)
  set_tests_properties(integration.dryrun_stream PROPERTIES TIMEOUT 900)
endif()
if(ENG_SANITIZE AND TEST integration.dryrun_stream)
  set_tests_properties(integration.dryrun_stream PROPERTIES
    ENVIRONMENT "${ENG_TEST_ENV};DRYRUN_STREAM_COUNT=2000;DRYRUN_STREAM_RSS=0")
endif()
# The dry run on several threads (--jobs 4 against --jobs 1): ~12,000 standard orders mapped
# natively; under the sanitizers (TSan is the tier that matters here) fewer, RSS not compared.
if(TEST integration.dryrun_jobs)
  set_tests_properties(integration.dryrun_jobs PROPERTIES TIMEOUT 900)
endif()
if(ENG_SANITIZE AND TEST integration.dryrun_jobs)
  set_tests_properties(integration.dryrun_jobs PROPERTIES
    ENVIRONMENT "${ENG_TEST_ENV};DRYRUN_JOBS_COUNT=300;DRYRUN_JOBS_BIG=2000;DRYRUN_JOBS_RSS=0")
endif()
