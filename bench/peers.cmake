# bench/peers.cmake - `ipcx bench --peers`: build the nng, ZeroMQ and iceoryx rows into a
# target where their Debian packages are installed (scripts/deps --bench); without them the
# rows say which package was missing. IPCX_BENCH_PEERS=OFF leaves them all out.
option(IPCX_BENCH_PEERS "Build ipcx bench --peers against nng, ZeroMQ and iceoryx where found" ON)

if(IPCX_BENCH_PEERS)
  find_package(nng CONFIG QUIET)                 # libnng-dev
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(IPCX_ZMQ QUIET IMPORTED_TARGET libzmq)  # libzmq3-dev
  endif()
  find_package(iceoryx_binding_c CONFIG QUIET)   # libiceoryx-binding-c-dev
  find_program(IPCX_IOX_ROUDI iox-roudi)         # iceoryx (the daemon)
  set(_found "")
  set(_missing "")
  foreach(_p nng IPCX_ZMQ iceoryx_binding_c)
    if(${_p}_FOUND)
      list(APPEND _found ${_p})
    else()
      list(APPEND _missing ${_p})
    endif()
  endforeach()
  get_property(_reported GLOBAL PROPERTY IPCX_BENCH_PEERS_REPORTED)
  if(NOT _reported)
    set_property(GLOBAL PROPERTY IPCX_BENCH_PEERS_REPORTED TRUE)
    message(STATUS "ipcx bench --peers: found [${_found}], missing [${_missing}]")
  endif()
endif()

# `ipcx bench --rpc`: libtirpc's client and server beside ipcx's (libtirpc-dev); without it
# the tirpc rows say so. Not behind IPCX_BENCH_PEERS: the RPC targets are measured on them.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(IPCX_BENCH_TIRPC QUIET IMPORTED_TARGET libtirpc)
endif()

# Link the peers found into target (ipcx, ipcx-bench).
function(ipcx_bench_peers target)
  if(IPCX_BENCH_TIRPC_FOUND)
    target_compile_definitions(${target} PRIVATE IPCX_BENCH_TIRPC)
    target_link_libraries(${target} PRIVATE PkgConfig::IPCX_BENCH_TIRPC)
  endif()
  if(NOT IPCX_BENCH_PEERS)
    return()
  endif()
  if(nng_FOUND)
    target_compile_definitions(${target} PRIVATE IPCX_BENCH_NNG)
    target_link_libraries(${target} PRIVATE nng::nng)
  endif()
  if(IPCX_ZMQ_FOUND)
    target_compile_definitions(${target} PRIVATE IPCX_BENCH_ZMQ)
    target_link_libraries(${target} PRIVATE PkgConfig::IPCX_ZMQ)
  endif()
  if(iceoryx_binding_c_FOUND)
    target_compile_definitions(${target} PRIVATE IPCX_BENCH_IOX)
    if(IPCX_IOX_ROUDI)
      target_compile_definitions(${target} PRIVATE IPCX_IOX_ROUDI="${IPCX_IOX_ROUDI}")
    endif()
    target_link_libraries(${target} PRIVATE iceoryx_binding_c::iceoryx_binding_c)
  endif()
endfunction()
