# rtml ui (src/ui/, src/cli/ui.cpp): a local web page over the results
# database. Needs cpp-httplib and SQLite; the page's files are embedded in the
# binary at build time (ui/embed_assets.cmake): ui/src/* and uPlot from
# ui/node_modules (`npm ci` in ui/, which `make build` runs). Without
# node_modules the build still works and `rtml ui` says what is missing.
set(RTML_UI_ASSETS_CPP ${CMAKE_BINARY_DIR}/ui_assets.cpp)
# Runs on every build (cheap): the script rewrites the .cpp only when a file changed.
add_custom_target(rtml_ui_assets
  COMMAND ${CMAKE_COMMAND} -DUI_DIR=${CMAKE_SOURCE_DIR}/ui -DOUT=${RTML_UI_ASSETS_CPP}
          -P ${CMAKE_SOURCE_DIR}/ui/embed_assets.cmake
  BYPRODUCTS ${RTML_UI_ASSETS_CPP}
  COMMENT "Embedding the rtml ui page (ui/src, ui/node_modules/uplot)"
  VERBATIM)
# At configure time too, so the file exists before the first build.
if(NOT EXISTS ${RTML_UI_ASSETS_CPP})
  execute_process(COMMAND ${CMAKE_COMMAND} -DUI_DIR=${CMAKE_SOURCE_DIR}/ui -DOUT=${RTML_UI_ASSETS_CPP}
                  -P ${CMAKE_SOURCE_DIR}/ui/embed_assets.cmake)
endif()
if(NOT EXISTS ${CMAKE_SOURCE_DIR}/ui/node_modules/uplot/dist/uPlot.esm.js)
  message(STATUS "rtml: ui/node_modules is missing (run `npm ci` in ui/, or `make build`): "
                 "rtml ui will say so instead of serving the page")
endif()
file(GLOB RTML_UI_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/ui/*.cpp)
add_library(rtml_ui STATIC ${RTML_UI_SOURCES} ${RTML_UI_ASSETS_CPP})
add_dependencies(rtml_ui rtml_ui_assets)
target_include_directories(rtml_ui PUBLIC ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(rtml_ui PUBLIC rtml_bench rtml_remote rtml_httplib)
target_compile_definitions(rtml_ui PUBLIC RTML_WITH_UI)
message(STATUS "rtml: cpp-httplib and SQLite found: rtml ui enabled")
