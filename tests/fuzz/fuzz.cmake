# tests/fuzz/fuzz.cmake - the fuzz targets (tests/fuzz/fuzz_*.c, one per target; README.md here).
# Two ways to build them:
#   -DENG_FUZZ=ON with clang: each target is a libFuzzer binary (build/fuzz_NAME), the whole
#       engine instrumented with -fsanitize=fuzzer-no-link,address,undefined; tools/test.sh's
#       `fuzz` tier runs each over its corpus (20 s each; an hour each with --long).
#   otherwise (the plain and sanitizer test builds): each target is linked with replay_main.c
#       into replay_NAME, and ctest's fuzz.NAME feeds it every file of tests/fuzz/corpus/NAME/,
#       so an input that once crashed (kept in the corpus) stays fixed without clang.
option(ENG_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)

file(GLOB ENG_FUZZ_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.c)

if(ENG_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ENG_FUZZ needs clang (CC=clang): libFuzzer is part of clang")
  endif()
  set(_eng_fuzz_flags -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
  target_compile_options(tallycore PUBLIC ${_eng_fuzz_flags})
  target_link_options(tallycore INTERFACE -fsanitize=address,undefined)
  foreach(src ${ENG_FUZZ_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz)
    target_link_libraries(${name} PRIVATE tallycore)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
elseif(ENG_BUILD_TESTS)
  foreach(src ${ENG_FUZZ_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    string(REGEX REPLACE "^fuzz_" "" target ${name})
    add_executable(replay_${target} ${src} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.c)
    target_include_directories(replay_${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz)
    target_link_libraries(replay_${target} PRIVATE tallycore)
    add_test(NAME fuzz.${target}
             COMMAND replay_${target} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${target}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(fuzz.${target} PROPERTIES LABELS unit TIMEOUT 300
      ENVIRONMENT "${ENG_TEST_ENV}")
  endforeach()
endif()
