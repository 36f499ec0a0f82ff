# The installable C++ package (issue 12): a shared libfacekit with a SONAME, its public headers,
# the converted models under share/facekit, a CMake package (find_package(facekit) ->
# facekit::facekit), a pkg-config file, the facekit program, and a Debian package through CPack.
#
#   cmake --install build --prefix /opt/facekit     # or: cd build && cpack -G DEB
#
# The library is facekit_core's objects (built position-independent) linked into one shared
# object that exports only the facekit:: API (cmake/libfacekit.map); OpenCV (core, imgproc),
# libpng, libjpeg, XNNPACK and the rest are private dependencies, so a program using it links only
# libfacekit. OpenCV's imgcodecs is not among them: libfacekit_imgcodecs.so, installed in
# <libdir>/facekit, holds it and is loaded only for BMP, TIFF, WebP and PNM files.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(facekit_core PROPERTIES POSITION_INDEPENDENT_CODE ON)

# Models at run time: <prefix>/share/facekit when running from an install tree (see
# src/package/data_dir.hpp, where defaultModelPath() is defined).
file(RELATIVE_PATH FACEKIT_LIBDIR_TO_DATADIR ${CMAKE_INSTALL_FULL_LIBDIR} ${CMAKE_INSTALL_FULL_DATADIR}/facekit)
file(RELATIVE_PATH FACEKIT_BINDIR_TO_DATADIR ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_DATADIR}/facekit)
target_sources(facekit_core PRIVATE ${PROJECT_SOURCE_DIR}/src/package/data_dir.cpp)
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/package/data_dir.cpp PROPERTIES COMPILE_DEFINITIONS
  "FACEKIT_LIBDIR_TO_DATADIR=\"${FACEKIT_LIBDIR_TO_DATADIR}\";FACEKIT_BINDIR_TO_DATADIR=\"${FACEKIT_BINDIR_TO_DATADIR}\"")
target_link_libraries(facekit_core PRIVATE ${CMAKE_DL_LIBS})
# The image codecs plugin: <libdir>/facekit, found from the library (libdir), the program (bindir)
# or the configured prefix; in the build tree, beside the library and the program.
file(RELATIVE_PATH FACEKIT_BINDIR_TO_LIBDIR ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/pipeline/codec_plugin.cpp PROPERTIES COMPILE_DEFINITIONS
  "FACEKIT_BINDIR_TO_LIBDIR=\"${FACEKIT_BINDIR_TO_LIBDIR}\";FACEKIT_INSTALL_LIBDIR=\"${CMAKE_INSTALL_FULL_LIBDIR}\";FACEKIT_BUILD_PLUGIN_DIR=\"${PROJECT_BINARY_DIR}\"")

# --- the shared library ------------------------------------------------------------------------
add_library(facekit_shared SHARED ${PROJECT_SOURCE_DIR}/src/package/version.cpp)
add_library(facekit::facekit ALIAS facekit_shared)
target_link_libraries(facekit_shared PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,facekit_core>")
target_link_options(facekit_shared PRIVATE "LINKER:--version-script=${PROJECT_SOURCE_DIR}/cmake/libfacekit.map" "LINKER:--no-undefined")
target_include_directories(facekit_shared INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(facekit_shared INTERFACE cxx_std_17)
set_target_properties(facekit_shared PROPERTIES
  OUTPUT_NAME facekit EXPORT_NAME facekit
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/libfacekit.map)

install(TARGETS facekit_shared EXPORT facekitTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/facekit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.hpp")
install(TARGETS facekit_imgcodecs LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/facekit COMPONENT runtime)
# The facekit front-end and the programs it runs from its own folder (tools/cli/programs.hpp).
install(TARGETS facekit facekit-eval facekit-video facekit-serve RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# The models: converted at setup (make models) and the shipped facekit-106 weights.
install(FILES ${PROJECT_SOURCE_DIR}/models/mtcnn.safetensors ${PROJECT_SOURCE_DIR}/models/facemesh.safetensors
  ${PROJECT_SOURCE_DIR}/weights/landmark106.safetensors
  DESTINATION ${CMAKE_INSTALL_DATADIR}/facekit COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

# CMake package: find_package(facekit) -> facekit::facekit.
set(FACEKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/facekit)
install(EXPORT facekitTargets NAMESPACE facekit:: DESTINATION ${FACEKIT_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/facekitConfig.cmake.in ${PROJECT_BINARY_DIR}/package/facekitConfig.cmake
  INSTALL_DESTINATION ${FACEKIT_CMAKE_DIR} PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/facekitConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/facekitConfig.cmake ${PROJECT_BINARY_DIR}/package/facekitConfigVersion.cmake
  DESTINATION ${FACEKIT_CMAKE_DIR} COMPONENT dev)

# pkg-config: facekit.pc (paths relative to its own location, so a moved prefix still works).
file(RELATIVE_PATH FACEKIT_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
configure_file(${PROJECT_SOURCE_DIR}/cmake/facekit.pc.in ${PROJECT_BINARY_DIR}/package/facekit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/facekit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# --- Debian package: cd build && cpack -G DEB --------------------------------------------------
set(CPACK_PACKAGE_NAME facekit)
set(CPACK_PACKAGE_VENDOR "facekit")
set(CPACK_PACKAGE_CONTACT "facekit maintainers <maintainers@facekit.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "face detection, 106-point landmarks and head pose: C++ library, headers, models and the facekit tool")
set(CPACK_PACKAGE_DESCRIPTION "libfacekit (MTCNN detection with 5 landmarks, facekit-106 landmarks and head pose), its headers,\n CMake and pkg-config files, the converted models in /usr/share/facekit and the facekit program\n (with facekit-eval, facekit-video and facekit-serve, which it runs for eval, video and serve). The shipped landmark106 weights are for research / non-commercial use.")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_STRIP_FILES ON)
include(CPack)
