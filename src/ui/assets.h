// ui/assets: the web page's files, embedded in the rtml binary at build time
// (ui/embed_assets.cmake turns ui/src/* and the chart library's files from
// ui/node_modules into a generated .cpp), so `rtml ui` needs no network and
// no files beside it. Only these paths are ever served.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rtml::ui {

struct Asset {
  std::string_view path;          // URL path, e.g. "/index.html", "/vendor/uPlot.esm.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view data;
};

// Every embedded file (generated).
const std::vector<Asset>& embedded_assets();

// "" when everything the page needs was embedded; else what was missing at
// build time and how to get it (e.g. ui/node_modules: run npm ci) (generated).
std::string_view missing_assets();

}  // namespace rtml::ui
