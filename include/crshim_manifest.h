/*
 * crshim's public formats: the process record a shim reports, and the
 * checkpoint manifest `crshim dump` writes.  Both are JSON, versioned with
 * "format" and "version"; a reader refuses a version it does not know.
 * Numbers are decimal JSON numbers except addresses, which are strings
 * "0x..." (JSON numbers lose precision above 2^53).
 *
 * ===================================================================
 * 1. Process record: "format": "crshim-process", "version": 1
 * ===================================================================
 * Answered by the shim to STATUS and PREPARE (include/crshim_control.h);
 * shown by `crshim status --json` and embedded in the manifest.  status adds
 * "output": true to objects /proc shows open as outputs, and "proc", the
 * /proc cross-check: exe, unrecorded_mappings, unrecorded_fds,
 * unrecorded_scratch, unrecorded_outputs (each entry "seen_by_shim": false).
 *
 *   ok            true
 *   pid, ppid, uid
 *   shim_version  "X.Y.Z"
 *   phase         "running" | "prepared"
 *   config        { hooks: [families], backtrace: bool,
 *                   scratch: [{dir, policy}], rundir }
 *   objects       [ object ]   what the shim recorded:
 *       id        registry slot (referenced by mappings[].object)
 *       kind      "file" | "posix_shm" | "memfd" | "sysv" | "anon_shared"
 *       path      name when recorded (kept current across rename); for
 *                 posix_shm "/dev/shm/NAME", memfd "/memfd:NAME",
 *                 sysv "/SYSV%08x" (the key), anon_shared ""
 *       dev, ino  identity (st_dev, st_ino) when recorded
 *       size      the size when the record is made (fstat of one of its
 *                 fds, else of its name); else the largest size seen
 *                 (ftruncate, mmap extent, shmget)
 *       mode      st_mode
 *       unlinked  the name was removed (unlink, shm_unlink, rename over it,
 *                 IPC_RMID; memfds are always unlinked)
 *       shared_map mapped MAP_SHARED at least once
 *       write, append  opened for writing / with O_APPEND (an output)
 *       scratch   "drop" | "keep" | "save"   (only for scratch files)
 *       sysv_key, sysv_id, sysv_rmid           (only for sysv)
 *       fds       [fd numbers currently referring to it]
 *       backtrace ["lib+0xOFF (symbol+0xOFF)", ...]  with CRSHIM_BACKTRACE=1
 *   mappings      [ { start, end, offset, prot ("rw-s"), object } ]
 *   registry      { objects, mappings, fds, dropped, dropped_objects,
 *                   dropped_mappings, dropped_fds, arena_bytes,
 *                   bytes_per_mapping, bytes_per_object }
 *   verbs         (only once the program opened a verbs device, with the
 *                 verbs layer on) what the shim holds for it; the handles
 *                 and keys the program sees are the "virtual" ones, the
 *                 real ones are those of the current device objects:
 *       state     "running" | "quiesced" | "released" | "rebuilt" |
 *                 "connected"
 *       generation  number of rebuilds so far
 *       contexts  [ { device, cmd_fd, async_fd, open: bool } ]
 *       ports     [ { device, port, vlid, lid, gids: [ { index, vgid,
 *                   gid } ] } ]  LIDs and GIDs as the program knows them
 *                   (vlid, vgid, from the first open) and as they are now
 *       pds, channels, srqs, ahs   counts
 *       mrs       [ { addr ("0x..."), length, iova, access, lkey, rkey,
 *                   real_lkey, real_rkey } ]   the first 256; mrs_total
 *       cqs       [ { cqe, stashed (completions kept across the
 *                   checkpoint), armed, channel_fd } ]
 *       qps       [ { vqpn, qpn, vlid, lid, type ("RC", "UD", ...),
 *                   state ("RESET" .. "ERR"), connected, remote_vqpn,
 *                   remote_vlid (once connected), recv_posted,
 *                   sends_in_flight } ]   the first 256
 *                 The manifest keeps the record taken at PREPARE, so
 *                 every region and object is there as it was released.
 *
 * ===================================================================
 * 2. Checkpoint manifest: DIR/manifest.json,
 *    "format": "crshim-manifest", "version": 1
 * ===================================================================
 * Written atomically (temporary file, fsync, rename) as the last step of a
 * successful dump; a directory without it, or with "complete": false, is an
 * interrupted checkpoint and `crshim restore` refuses it.
 *
 *   complete      true
 *   created       "YYYY-MM-DDTHH:MM:SSZ"
 *   host          node name
 *   criu          { path, version }
 *   tree          bool: each dump is a whole process tree (--tree)
 *   leave_running bool
 *   dumps         [ dump ]  one CRIU run each:
 *       root_pid  the pid given to CRIU (-t)
 *       images    "dumps/PID" (relative to DIR)
 *       config    "dumps/PID/criu.conf": the CRIU configuration file the
 *                 dump used as is (external file[...] lines, options)
 *       pids      [every pid in the dumped tree]
 *       dump_seconds  (a self-checkpoint writes dump_ms instead)
 *       image_files { "NAME.img": bytes } every CRIU image of the run with
 *                 its size; restore refuses a checkpoint where one is
 *                 missing or of another size (before creating anything);
 *                 absent in a self-checkpoint, which restore then takes
 *                 as it is
 *       self_images_fd, self_images_path   (self-checkpoint only) the
 *                 images' directory, which the process held open while
 *                 CRIU dumped it (libcriu needs it): restore hands the
 *                 directory back under that name (--inherit-fd)
 *   self_checkpoint  true when written by crshim_checkpoint_self (include/
 *                 crshim.h) rather than `crshim dump`; absent otherwise
 *   processes     [ { pid, dump (index in dumps), exe, shim: bool, stopped:
 *                    bool, record: <process record or null without the
 *                    shim>, stdio, threads; ppid in self-checkpoints } ]
 *       stopped   the process was stopped by a signal when it was dumped
 *                 (only one without the shim can be): restore leaves it
 *                 stopped and continues the others (absent: false)
 *       threads   [ thread ids other than pid ], read while CRIU held the
 *                 process; restore waits for them to be free, as for pids
 *                 (absent in older manifests)
 *       stdio     [ { fd (0, 1, 2), kind, target, access, key, dev, ino,
 *                     session } ]
 *                 read while the process still ran:
 *                 kind    "pipe" | "tty" | "file" (a regular file or a
 *                         device CRIU reopens by name) | "socket" |
 *                         "other" | "closed" (only fd and kind then)
 *                 target  what /proc/PID/fd/N points at
 *                 access  "r" | "w" | "rw"
 *                 key     CRIU's --inherit-fd name for it: "pipe:[INO]",
 *                         "tty[RDEV:DEV]" (hex), a file's path without its
 *                         leading "/"; absent when CRIU has none
 *                 session (terminals only) the session whose controlling
 *                         terminal it is, 0 if none; absent in older
 *                         manifests
 *                 `crshim restore --child` hands its own fds 0-2 to CRIU
 *                 under these names (tools/stdio_inherit.h), but for the
 *                 terminal of a session whose leader is not in the dump,
 *                 which CRIU takes from its stdin (--shell-job)
 *   pools         [ pool ]  shared content CRIU is told not to save
 *                 (external file[...]); saved once here instead:
 *       id        "pool-N"
 *       kind      "file" | "posix_shm" | "memfd"
 *       path      the name it had (for unlinked ones: its last name)
 *       unlinked  bool: recreated without a name at restore
 *       dev, ino, mnt_id   identity at dump time
 *       external  "file[MNTID:INODE]" (hex), the key in the CRIU config
 *       size, mode, uid, gid
 *       data      "pools/pool-N.img" (sparse where the original was)
 *       data_bytes allocated bytes of the copy
 *       holders   [ { pid, fds: [N], mappings: [{start, end, offset, prot}] } ]
 *                 At restore CRIU gets the recreated file under the
 *                 inherit key "ile[MNTID:INODE]" (the external name minus
 *                 its first character, as CRIU looks names up), which
 *                 hands every holder a dup of one open file.
 *   scratch       [ entry ]  scratch files (CRSHIM_SCRATCH, crshim_mark_scratch):
 *       id        "scratch-N"
 *       path, unlinked, dev, ino, mnt_id, external, size, mode, uid, gid,
 *       holders   as for pools (size is read while frozen)
 *       dir_mode, dir_uid, dir_gid  the directory it was in: missing
 *                 directories are made again with them at restore
 *       policy    "drop" | "keep" | "save"
 *       keep_downgraded_to_save  an unlinked file cannot be kept: saved
 *       data, data_bytes  "scratch/scratch-N.img" (save only)
 *   outputs       [ { id, path, dev, ino, mnt_id, external, mode, uid, gid,
 *                     size_at_dump, pos, access ("w" | "rw"), dir_mode,
 *                     dir_uid, dir_gid, holders: [{pid, fds}] } ]
 *                 regular files open for writing with O_APPEND (any
 *                 position), or write-only and positioned at their end;
 *                 restored as one file opened O_WRONLY|O_APPEND (O_RDWR if
 *                 access is "rw"), positioned at pos when that was before
 *                 the end, else at the end as it is now; a deleted one is
 *                 made again empty with its owner and mode, and missing
 *                 directories with dir_mode/dir_uid/dir_gid (tools/outputs.h)
 *   fifos         [ { path, mode, uid, gid } ]  named FIFOs held open;
 *                 made again at restore when missing
 *   tcp_listen_ports [ port ]  TCP ports the processes listen on
 *
 * DIR layout: manifest.json, pools/, scratch/, dumps/PID/ (CRIU images,
 * criu.conf, dump.log, criu.out, restore.log, criu-restore.out), hook.sh.
 */
#ifndef CRSHIM_MANIFEST_H
#define CRSHIM_MANIFEST_H

#define CRSHIM_PROCESS_FORMAT "crshim-process"
#define CRSHIM_PROCESS_VERSION 1
#define CRSHIM_MANIFEST_FORMAT "crshim-manifest"
#define CRSHIM_MANIFEST_VERSION 1
#define CRSHIM_MANIFEST_FILE "manifest.json"
/* Set by `crshim restore` on the empty file it puts in place of a dropped
 * scratch file; crshim_scratch_dropped() reads it. */
#define CRSHIM_DROPPED_XATTR "user.crshim.dropped"

#endif
