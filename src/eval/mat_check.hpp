// A structural check of MATLAB .mat files before libmatio reads them.
//
// libmatio trusts the sizes a file declares: a 45-byte file that looks like a version 4 file, or
// a compressed variable whose name claims 4 GiB, makes it allocate and clear gigabytes
// (docs/reliability.md, finding 6). checkMat5 accepts only what facekit's readers need, a
// version 5 file (the format of the WIDER FACE and AFLW2000-3D annotations), and walks every
// element, compressed ones inflated (at most 256 MiB in all), checking that each size fits in
// its parent, that dimensions agree with the data, and that nesting is at most 16 deep.
// Numeric, char, logical, cell and struct arrays pass; sparse, object, function and opaque
// values do not (no facekit reader uses them).
#pragma once

#include <string>

namespace facekit::eval {

// Throws facekit::Error (kIoError: unreadable; kBadModel: anything else) naming the file.
void checkMat5(const std::string& path);

}  // namespace facekit::eval
