// Minimal line charts rendered with OpenCV, for evaluation and benchmark reports (PNG).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace facekit::eval {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

struct LinePlot {
  std::string title, x_label, y_label;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  std::vector<Series> series;
};

// Renders the chart (axes, grid, legend) and writes it as PNG. Throws facekit::Error on I/O failure.
void savePlot(const LinePlot& plot, const std::string& png_path, int width = 800, int height = 600);

}  // namespace facekit::eval
