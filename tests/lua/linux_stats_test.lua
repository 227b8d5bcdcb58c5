-- Tests for hekad's six Linux stats decoders (lua/lua_decoders/linux_*.lua): the
-- examples of Heka's decoder documentation, real files of a Linux 6.18 machine
-- (tests/lua/fixtures/proc/), and hand-written payloads for edge cases.
local h = require "harness"

local FIXTURES = "tests/lua/fixtures/proc/"

-- Runs one payload through decoder `name`; `fields` are the input message's fields
-- (FilePollingInput sets FilePath and TickerInterval), `config` its config.
local function decode(name, payload, fields, config)
    local p = h.plugin("lua/lua_decoders/" .. name .. ".lua", config or {})
    return p.process({ Type = "heka.file.polling", Payload = payload, Fields = fields or {} })
end

-- Asserts that decoding succeeded and injected exactly `expected` (a list of messages).
local function ok(label, expected, rc, err, injected)
    h.equal(rc, 0, label .. " rc")
    h.equal(err, nil, label .. " error")
    h.equal(injected, expected, label)
end

-- Asserts that decoding failed with rc -1, an error text and no injected message.
local function fails(label, rc, err, injected)
    h.equal(rc, -1, label .. " rc")
    h.equal(type(err), "string", label .. " error text")
    h.equal(#err > 0, true, label .. " error text not empty")
    h.equal(injected, {}, label .. " injected")
end

-- Wraps plain numbers into INTEGER field values (value_type 2), as linux_netstat emits.
local function integers(t)
    local out = {}
    for k, v in pairs(t) do out[k] = { value = v, value_type = 2 } end
    return out
end

local function kb(v) return { value = v, representation = "kB" } end

---------------------------------------------------------------- linux_loadavg
do
    -- Heka's documented example message
    ok("loadavg doc example", { { Type = "stats.loadavg", Fields = {
        ["1MinAvg"] = 3.05, ["5MinAvg"] = 1.21, ["15MinAvg"] = 0.44,
        NumProcesses = 11, FilePath = "/proc/loadavg" } } },
        decode("linux_loadavg", "3.05 1.21 0.44 11/245 30293\n",
            { FilePath = "/proc/loadavg", TickerInterval = 1 }))

    -- this machine's /proc/loadavg
    local payload = h.read_file(FIXTURES .. "loadavg")
    h.equal(payload, "0.01 0.68 1.13 1/121 6535\n", "loadavg fixture")
    ok("loadavg fixture", { { Type = "stats.loadavg", Fields = {
        ["1MinAvg"] = 0.01, ["5MinAvg"] = 0.68, ["15MinAvg"] = 1.13,
        NumProcesses = 1, FilePath = "/proc/loadavg" } } },
        decode("linux_loadavg", payload, { FilePath = "/proc/loadavg" }))

    -- payload_keep; no FilePath field on the input; no trailing newline, no last pid
    ok("loadavg payload_keep", { { Type = "stats.loadavg", Payload = "10.00 5.5 0.00 120/4000",
        Fields = { ["1MinAvg"] = 10, ["5MinAvg"] = 5.5, ["15MinAvg"] = 0, NumProcesses = 120 } } },
        decode("linux_loadavg", "10.00 5.5 0.00 120/4000", nil, { payload_keep = true }))

    fails("loadavg garbage", decode("linux_loadavg", "load is high\n"))
    fails("loadavg missing average", decode("linux_loadavg", "0.01 0.68 1/121 6535\n"))
    fails("loadavg trailing junk", decode("linux_loadavg", "0.01 0.68 1.13 1/121 6535 x\n"))
    fails("loadavg empty", decode("linux_loadavg", ""))
    fails("loadavg no payload", decode("linux_loadavg", nil))
end

---------------------------------------------------------------- linux_memstats
do
    -- Heka's documented example message
    ok("memstats doc example", { { Type = "stats.memstats", Fields = {
        MemTotal = kb(4047616), MemFree = kb(3432216), Buffers = kb(82028),
        Cached = kb(368636), FilePath = "/proc/meminfo" } } },
        decode("linux_memstats",
            "MemTotal:        4047616 kB\nMemFree:         3432216 kB\n" ..
            "Buffers:           82028 kB\nCached:           368636 kB\n",
            { FilePath = "/proc/meminfo", TickerInterval = 1 }))

    -- this machine's /proc/meminfo: every line, kB except HugePages_*
    ok("memstats fixture", { { Type = "stats.memstats", Fields = {
        MemTotal = kb(24683784),
        MemFree = kb(24167824),
        MemAvailable = kb(24253552),
        Buffers = kb(3940),
        Cached = kb(148124),
        SwapCached = kb(0),
        Active = kb(104052),
        Inactive = kb(46368),
        ["Active(anon)"] = kb(60),
        ["Inactive(anon)"] = kb(8516),
        ["Active(file)"] = kb(103992),
        ["Inactive(file)"] = kb(37852),
        Unevictable = kb(15584),
        Mlocked = kb(12136),
        SwapTotal = kb(0),
        SwapFree = kb(0),
        Zswap = kb(0),
        Zswapped = kb(0),
        Dirty = kb(256),
        Writeback = kb(0),
        AnonPages = kb(14064),
        Mapped = kb(11564),
        Shmem = kb(10220),
        KReclaimable = kb(241048),
        Slab = kb(274928),
        SReclaimable = kb(241048),
        SUnreclaim = kb(33880),
        KernelStack = kb(1968),
        PageTables = kb(2056),
        SecPageTables = kb(0),
        NFS_Unstable = kb(0),
        Bounce = kb(0),
        WritebackTmp = kb(0),
        CommitLimit = kb(12341892),
        Committed_AS = kb(159796),
        VmallocTotal = kb(34359738367),
        VmallocUsed = kb(6228),
        VmallocChunk = kb(0),
        Percpu = kb(768),
        AnonHugePages = kb(0),
        ShmemHugePages = kb(0),
        ShmemPmdMapped = kb(0),
        FileHugePages = kb(0),
        FilePmdMapped = kb(0),
        Balloon = kb(0),
        HugePages_Total = 0,
        HugePages_Free = 0,
        HugePages_Rsvd = 0,
        HugePages_Surp = 0,
        Hugepagesize = kb(2048),
        Hugetlb = kb(0),
        DirectMap4k = kb(20480),
        DirectMap2M = kb(2076672),
        DirectMap1G = kb(25165824),
        FilePath = "/proc/meminfo" } } },
        decode("linux_memstats", h.read_file(FIXTURES .. "meminfo"),
            { FilePath = "/proc/meminfo" }))

    -- a kernel without some lines, extra blanks, no final newline, payload_keep
    local payload = "MemTotal: 100 kB\nHugePages_Total:   3   \nNewThing(x):  7 kB"
    ok("memstats short", { { Type = "stats.memstats", Payload = payload, Fields = {
        MemTotal = kb(100), HugePages_Total = 3, ["NewThing(x)"] = kb(7) } } },
        decode("linux_memstats", payload, nil, { payload_keep = true }))

    fails("memstats garbage", decode("linux_memstats", "this is not meminfo\n"))
    fails("memstats bad line", decode("linux_memstats", "MemTotal: 100 kB\nMemFree: lots kB\n"))
    fails("memstats trailing junk", decode("linux_memstats", "MemTotal: 100 kB extra\n"))
    fails("memstats empty", decode("linux_memstats", ""))
end

---------------------------------------------------------------- linux_diskstats
do
    -- Heka's documented example message
    ok("diskstats doc example", { { Type = "stats.diskstats", Fields = {
        ReadsCompleted = 20123, ReadsMerged = 11267, SectorsRead = 1094968,
        TimeReading = 45148, WritesCompleted = 1278, WritesMerged = 1278,
        SectorsWritten = 206504, TimeWriting = 3348, TimeDoingIO = 4876,
        WeightedTimeDoingIO = 48356, NumIOInProgress = 3, TickerInterval = 2,
        FilePath = "/sys/block/sda/stat" } } },
        decode("linux_diskstats",
            "   20123    11267  1094968    45148     1278     1278   206504     3348" ..
            "        3     4876    48356\n",
            { FilePath = "/sys/block/sda/stat", TickerInterval = 2 }))

    -- this machine's /sys/block/vda/stat (17 columns: discard and flush counters ignored)
    ok("diskstats fixture", { { Type = "stats.diskstats", Fields = {
        ReadsCompleted = 1194478, ReadsMerged = 69852, SectorsRead = 123096362,
        TimeReading = 1733226, WritesCompleted = 107439, WritesMerged = 172871,
        SectorsWritten = 123271824, TimeWriting = 1385253, NumIOInProgress = 0,
        TimeDoingIO = 390576, WeightedTimeDoingIO = 3221865, TickerInterval = 1,
        FilePath = "/sys/block/vda/stat" } } },
        decode("linux_diskstats", h.read_file(FIXTURES .. "diskstat"),
            { FilePath = "/sys/block/vda/stat", TickerInterval = { value = 1, value_type = 2 } }))

    -- a 15-column kernel, no input fields, payload_keep
    local payload = "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"
    ok("diskstats 15 columns", { { Type = "stats.diskstats", Payload = payload, Fields = {
        ReadsCompleted = 1, ReadsMerged = 2, SectorsRead = 3, TimeReading = 4,
        WritesCompleted = 5, WritesMerged = 6, SectorsWritten = 7, TimeWriting = 8,
        NumIOInProgress = 9, TimeDoingIO = 10, WeightedTimeDoingIO = 11 } } },
        decode("linux_diskstats", payload, nil, { payload_keep = true }))

    fails("diskstats 10 columns", decode("linux_diskstats", "1 2 3 4 5 6 7 8 9 10\n"))
    fails("diskstats garbage", decode("linux_diskstats", "sda is busy\n"))
    fails("diskstats negative", decode("linux_diskstats", "1 2 3 4 5 6 7 8 -9 10 11\n"))
    fails("diskstats two lines", decode("linux_diskstats",
        "1 2 3 4 5 6 7 8 9 10 11\n1 2 3 4 5 6 7 8 9 10 11\n"))
    fails("diskstats empty", decode("linux_diskstats", ""))
end

---------------------------------------------------------------- linux_procstat
do
    -- Heka's documented example message (its elided intr/softirq lists shortened)
    local cpu = { 14384, 125, 3330, 946000, 333, 0, 356, 0, 0, 0 }
    ok("procstat doc example", { { Type = "stats.procstat", Fields = {
        cpu = cpu, cpu0 = cpu, ctxt = 2808304, btime = 1423004780,
        intr = { 14384, 125, 3330, 0, 0, 0, 0, 0, 0, 0 }, processes = 3811,
        procs_running = 1, procs_blocked = 0,
        softirq = { 288977, 23, 101952, 19, 13046, 19217, 7 } } } },
        decode("linux_procstat",
            "cpu  14384 125 3330 946000 333 0 356 0 0 0\n" ..
            "cpu0 14384 125 3330 946000 333 0 356 0 0 0\n" ..
            "intr 14384 125 3330 0 0 0 0 0 0 0\n" ..
            "ctxt 2808304\nbtime 1423004780\nprocesses 3811\n" ..
            "procs_running 1\nprocs_blocked 0\n" ..
            "softirq 288977 23 101952 19 13046 19217 7\n",
            { FilePath = "/proc/stat", TickerInterval = 1 }))

    -- this machine's /proc/stat
    ok("procstat fixture", { { Type = "stats.procstat", Fields = {
    cpu = {2122757, 0, 206969, 2011377, 15753, 0, 3774, 23849, 0, 0},
    cpu0 = {982039, 0, 96040, 1095685, 4856, 0, 1534, 11930, 0, 0},
    cpu1 = {1140718, 0, 110928, 915692, 10896, 0, 2239, 11919, 0, 0},
    intr = {14471319, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 1, 1, 0, 0, 1, 1, 4393, 2588, 0, 371, 1, 503189, 0, 7156, 5655, 0, 6966, 17717, 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0},
    ctxt = 15982869,
    btime = 1796611308,
    processes = 201314,
    procs_running = 1,
    procs_blocked = 0,
    softirq = {5096484, 0, 732275, 4, 922182, 503048, 0, 259, 1602062, 170361, 1166293},
    } } },
        decode("linux_procstat", h.read_file(FIXTURES .. "stat"), { FilePath = "/proc/stat" }))

    -- an old kernel: 4 cpu columns, page/swap lines, no final newline; payload_keep
    local payload = "cpu  1 2 3 4\npage 5741 1808\nswap 1 0\nctxt 7"
    ok("procstat old kernel", { { Type = "stats.procstat", Payload = payload, Fields = {
        cpu = { 1, 2, 3, 4 }, page = { 5741, 1808 }, swap = { 1, 0 }, ctxt = 7 } } },
        decode("linux_procstat", payload, nil, { payload_keep = true }))

    fails("procstat garbage", decode("linux_procstat", "cpu is idle\n"))
    fails("procstat key without values", decode("linux_procstat", "cpu 1 2 3 4\nctxt\n"))
    fails("procstat empty", decode("linux_procstat", ""))
end

---------------------------------------------------------------- linux_netdev
local function netdev(name, v)
    return { Type = "stats.netdev", Fields = { netdevice = name,
        receive_bytes = v[1], receive_packets = v[2], receive_errs = v[3],
        receive_drop = v[4], receive_fifo = v[5], receive_frame = v[6],
        receive_compressed = v[7], receive_multicast = v[8],
        transmit_bytes = v[9], transmit_packets = v[10], transmit_errs = v[11],
        transmit_drop = v[12], transmit_fifo = v[13], transmit_colls = v[14],
        transmit_carrier = v[15], transmit_compressed = v[16] } }
end

local NETDEV_HEADER =
    "Inter-|   Receive                                                |  Transmit\n" ..
    " face |bytes    packets errs drop fifo frame compressed multicast|" ..
    "bytes    packets errs drop fifo colls carrier compressed\n"

do
    -- Heka's documented example message (one message per interface)
    ok("netdev doc example", { netdev("eth0", { 139159830850, 118443194, 0, 0, 0, 0, 0, 0,
        178516842512, 107330545, 0, 0, 0, 0, 0, 0 }) },
        decode("linux_netdev", NETDEV_HEADER ..
            "  eth0: 139159830850 118443194    0    0    0     0          0         0 " ..
            "178516842512 107330545    0    0    0     0       0          0\n",
            { FilePath = "/proc/net/dev", TickerInterval = 1 }))

    -- this machine's /proc/net/dev
    ok("netdev fixture", {
        netdev("lo", { 35774373120, 1142362, 0, 0, 0, 0, 0, 0,
            35774373120, 1142362, 0, 0, 0, 0, 0, 0 }),
        netdev("ifb0", { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }),
        netdev("ifb1", { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }),
        netdev("eth0", { 296142497, 10582, 0, 0, 0, 0, 0, 0, 640845, 7566, 0, 0, 0, 0, 0, 0 }) },
        decode("linux_netdev", h.read_file(FIXTURES .. "net_dev"), { FilePath = "/proc/net/dev" }))

    -- no header (`tail -n +3`), a 17th column, odd names, no blank after the colon,
    -- no final newline; payload_keep puts the payload on every message
    local payload = "br-1a2b.10:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 99\n" ..
        "  veth_x: 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1"
    local a = netdev("br-1a2b.10", { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 })
    local b = netdev("veth_x", { 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 })
    a.Payload, b.Payload = payload, payload
    ok("netdev no header", { a, b }, decode("linux_netdev", payload, nil, { payload_keep = true }))

    fails("netdev header only", decode("linux_netdev", NETDEV_HEADER))
    fails("netdev 15 columns", decode("linux_netdev",
        NETDEV_HEADER .. "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"))
    fails("netdev garbage line", decode("linux_netdev",
        NETDEV_HEADER .. "  lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\nnetwork is down\n"))
    fails("netdev empty", decode("linux_netdev", ""))
end

---------------------------------------------------------------- linux_netstat
do
    -- Heka's documented example message (a /proc/net/snmp holding Ip, Icmp, IcmpMsg)
    local fields = integers({
        Ip_Forwarding = 1, Ip_DefaultTTL = 64, Ip_InReceives = 718979, Ip_InHdrErrors = 0,
        Ip_InAddrErrors = 31, Ip_ForwDatagrams = 0, Ip_InUnknownProtos = 0,
        Ip_InDiscards = 0, Ip_InDelivers = 718236, Ip_OutRequests = 544286,
        Ip_OutDiscards = 9272, Ip_OutNoRoutes = 1788, Ip_ReasmTimeout = 0,
        Ip_ReasmReqds = 0, Ip_ReasmOKs = 0, Ip_ReasmFails = 0, Ip_FragOKs = 0,
        Ip_FragFails = 0, Ip_FragCreates = 0,
        Icmp_InMsgs = 19893, Icmp_InErrors = 0, Icmp_InCsumErrors = 0,
        Icmp_InDestUnreachs = 19812, Icmp_InTimeExcds = 0, Icmp_InParmProbs = 0,
        Icmp_InSrcQuenchs = 0, Icmp_InRedirects = 0, Icmp_InEchos = 81,
        Icmp_InEchoReps = 0, Icmp_InTimestamps = 0, Icmp_InTimestampReps = 0,
        Icmp_InAddrMasks = 0, Icmp_InAddrMaskReps = 0, Icmp_OutMsgs = 19892,
        Icmp_OutErrors = 0, Icmp_OutDestUnreachs = 19811, Icmp_OutTimeExcds = 0,
        Icmp_OutParmProbs = 0, Icmp_OutSrcQuenchs = 0, Icmp_OutRedirects = 0,
        Icmp_OutEchos = 0, Icmp_OutEchoReps = 81, Icmp_OutTimestamps = 0,
        Icmp_OutTimestampReps = 0, Icmp_OutAddrMasks = 0, Icmp_OutAddrMaskReps = 0,
        IcmpMsg_InType3 = 19812, IcmpMsg_InType8 = 81, IcmpMsg_OutType0 = 81,
        IcmpMsg_OutType3 = 19811 })
    fields.FilePath = "/proc/net/snmp"
    ok("netstat doc example", { { Type = "stats.netstat", Fields = fields } },
        decode("linux_netstat",
            "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams " ..
            "InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes " ..
            "ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates\n" ..
            "Ip: 1 64 718979 0 31 0 0 0 718236 544286 9272 1788 0 0 0 0 0 0 0\n" ..
            "Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs " ..
            "InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps " ..
            "InAddrMasks InAddrMaskReps OutMsgs OutErrors OutDestUnreachs OutTimeExcds " ..
            "OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps " ..
            "OutTimestampReps OutAddrMasks OutAddrMaskReps\n" ..
            "Icmp: 19893 0 0 19812 0 0 0 0 81 0 0 0 0 0 19892 0 19811 0 0 0 0 0 81 0 0 0 0\n" ..
            "IcmpMsg: InType3 InType8 OutType0 OutType3\n" ..
            "IcmpMsg: 19812 81 81 19811\n",
            { FilePath = "/proc/net/snmp", TickerInterval = 1 }))

    -- this machine's /proc/net/netstat
    fields = integers({
    TcpExt_SyncookiesSent = 0, TcpExt_SyncookiesRecv = 0, TcpExt_SyncookiesFailed = 0,
    TcpExt_EmbryonicRsts = 0, TcpExt_PruneCalled = 0, TcpExt_RcvPruned = 0,
    TcpExt_OfoPruned = 0, TcpExt_OutOfWindowIcmps = 0, TcpExt_LockDroppedIcmps = 0,
    TcpExt_ArpFilter = 0, TcpExt_TW = 1046, TcpExt_TWRecycled = 0, TcpExt_TWKilled = 0,
    TcpExt_PAWSActive = 0, TcpExt_PAWSEstab = 0, TcpExt_BeyondWindow = 0,
    TcpExt_TSEcrRejected = 0, TcpExt_PAWSOldAck = 0, TcpExt_PAWSTimewait = 0,
    TcpExt_DelayedACKs = 228, TcpExt_DelayedACKLocked = 0, TcpExt_DelayedACKLost = 132,
    TcpExt_ListenOverflows = 0, TcpExt_ListenDrops = 0, TcpExt_TCPHPHits = 124028,
    TcpExt_TCPPureAcks = 151140, TcpExt_TCPHPAcks = 176728, TcpExt_TCPRenoRecovery = 0,
    TcpExt_TCPSackRecovery = 5, TcpExt_TCPSACKReneging = 0, TcpExt_TCPSACKReorder = 7,
    TcpExt_TCPRenoReorder = 0, TcpExt_TCPTSReorder = 0, TcpExt_TCPFullUndo = 2,
    TcpExt_TCPPartialUndo = 0, TcpExt_TCPDSACKUndo = 3, TcpExt_TCPLossUndo = 0,
    TcpExt_TCPLostRetransmit = 0, TcpExt_TCPRenoFailures = 0, TcpExt_TCPSackFailures = 0,
    TcpExt_TCPLossFailures = 0, TcpExt_TCPFastRetrans = 8, TcpExt_TCPSlowStartRetrans = 0,
    TcpExt_TCPTimeouts = 4, TcpExt_TCPLossProbes = 138, TcpExt_TCPLossProbeRecovery = 3,
    TcpExt_TCPRenoRecoveryFail = 0, TcpExt_TCPSackRecoveryFail = 0,
    TcpExt_TCPRcvCollapsed = 0, TcpExt_TCPBacklogCoalesce = 70430,
    TcpExt_TCPDSACKOldSent = 132, TcpExt_TCPDSACKOfoSent = 0, TcpExt_TCPDSACKRecv = 118,
    TcpExt_TCPDSACKOfoRecv = 0, TcpExt_TCPAbortOnData = 5, TcpExt_TCPAbortOnClose = 30,
    TcpExt_TCPAbortOnMemory = 0, TcpExt_TCPAbortOnTimeout = 0, TcpExt_TCPAbortOnLinger = 0,
    TcpExt_TCPAbortFailed = 0, TcpExt_TCPMemoryPressures = 0,
    TcpExt_TCPMemoryPressuresChrono = 0, TcpExt_TCPSACKDiscard = 0,
    TcpExt_TCPDSACKIgnoredOld = 0, TcpExt_TCPDSACKIgnoredNoUndo = 110,
    TcpExt_TCPSpuriousRTOs = 0, TcpExt_TCPMD5NotFound = 0, TcpExt_TCPMD5Unexpected = 0,
    TcpExt_TCPMD5Failure = 0, TcpExt_TCPSackShifted = 0, TcpExt_TCPSackMerged = 0,
    TcpExt_TCPSackShiftFallback = 13, TcpExt_TCPBacklogDrop = 0, TcpExt_PFMemallocDrop = 0,
    TcpExt_TCPMinTTLDrop = 0, TcpExt_TCPDeferAcceptDrop = 0, TcpExt_IPReversePathFilter = 0,
    TcpExt_TCPTimeWaitOverflow = 0, TcpExt_TCPReqQFullDoCookies = 0,
    TcpExt_TCPReqQFullDrop = 0, TcpExt_TCPRetransFail = 0, TcpExt_TCPRcvCoalesce = 202406,
    TcpExt_TCPOFOQueue = 11, TcpExt_TCPOFODrop = 0, TcpExt_TCPOFOMerge = 0,
    TcpExt_TCPChallengeACK = 0, TcpExt_TCPSYNChallenge = 0, TcpExt_TCPFastOpenActive = 0,
    TcpExt_TCPFastOpenActiveFail = 0, TcpExt_TCPFastOpenPassive = 0,
    TcpExt_TCPFastOpenPassiveFail = 0, TcpExt_TCPFastOpenListenOverflow = 0,
    TcpExt_TCPFastOpenCookieReqd = 0, TcpExt_TCPFastOpenBlackhole = 0,
    TcpExt_TCPSpuriousRtxHostQueues = 4, TcpExt_BusyPollRxPackets = 0,
    TcpExt_TCPAutoCorking = 255, TcpExt_TCPFromZeroWindowAdv = 31339,
    TcpExt_TCPToZeroWindowAdv = 31339, TcpExt_TCPWantZeroWindowAdv = 24859,
    TcpExt_TCPSynRetrans = 0, TcpExt_TCPOrigDataSent = 811510,
    TcpExt_TCPHystartTrainDetect = 0, TcpExt_TCPHystartTrainCwnd = 0,
    TcpExt_TCPHystartDelayDetect = 0, TcpExt_TCPHystartDelayCwnd = 0,
    TcpExt_TCPACKSkippedSynRecv = 0, TcpExt_TCPACKSkippedPAWS = 0,
    TcpExt_TCPACKSkippedSeq = 12, TcpExt_TCPACKSkippedFinWait2 = 0,
    TcpExt_TCPACKSkippedTimeWait = 0, TcpExt_TCPACKSkippedChallenge = 0,
    TcpExt_TCPWinProbe = 54, TcpExt_TCPKeepAlive = 0, TcpExt_TCPMTUPFail = 0,
    TcpExt_TCPMTUPSuccess = 0, TcpExt_TCPDelivered = 812707, TcpExt_TCPDeliveredCE = 0,
    TcpExt_TCPAckCompressed = 0, TcpExt_TCPZeroWindowDrop = 0, TcpExt_TCPRcvQDrop = 0,
    TcpExt_TCPWqueueTooBig = 0, TcpExt_TCPFastOpenPassiveAltKey = 0,
    TcpExt_TcpTimeoutRehash = 4, TcpExt_TcpDuplicateDataRehash = 0,
    TcpExt_TCPDSACKRecvSegs = 120, TcpExt_TCPDSACKIgnoredDubious = 0,
    TcpExt_TCPMigrateReqSuccess = 0, TcpExt_TCPMigrateReqFailure = 0,
    TcpExt_TCPPLBRehash = 0, TcpExt_TCPAORequired = 0, TcpExt_TCPAOBad = 0,
    TcpExt_TCPAOKeyNotFound = 0, TcpExt_TCPAOGood = 0, TcpExt_TCPAODroppedIcmps = 0,
    IpExt_InNoRoutes = 0, IpExt_InTruncatedPkts = 0, IpExt_InMcastPkts = 0,
    IpExt_OutMcastPkts = 0, IpExt_InBcastPkts = 0, IpExt_OutBcastPkts = 0,
    IpExt_InOctets = 36070366525, IpExt_OutOctets = 35767439757, IpExt_InMcastOctets = 0,
    IpExt_OutMcastOctets = 0, IpExt_InBcastOctets = 0, IpExt_OutBcastOctets = 0,
    IpExt_InCsumErrors = 0, IpExt_InNoECTPkts = 1153021, IpExt_InECT1Pkts = 0,
    IpExt_InECT0Pkts = 0, IpExt_InCEPkts = 0, IpExt_ReasmOverlaps = 0,
    MPTcpExt_MPCapableSYNRX = 0, MPTcpExt_MPCapableSYNTX = 0,
    MPTcpExt_MPCapableSYNACKRX = 0, MPTcpExt_MPCapableACKRX = 0,
    MPTcpExt_MPCapableFallbackACK = 0, MPTcpExt_MPCapableFallbackSYNACK = 0,
    MPTcpExt_MPCapableSYNTXDrop = 0, MPTcpExt_MPCapableSYNTXDisabled = 0,
    MPTcpExt_MPCapableEndpAttempt = 0, MPTcpExt_MPFallbackTokenInit = 0,
    MPTcpExt_MPTCPRetrans = 0, MPTcpExt_MPJoinNoTokenFound = 0, MPTcpExt_MPJoinSynRx = 0,
    MPTcpExt_MPJoinSynBackupRx = 0, MPTcpExt_MPJoinSynAckRx = 0,
    MPTcpExt_MPJoinSynAckBackupRx = 0, MPTcpExt_MPJoinSynAckHMacFailure = 0,
    MPTcpExt_MPJoinAckRx = 0, MPTcpExt_MPJoinAckHMacFailure = 0,
    MPTcpExt_MPJoinRejected = 0, MPTcpExt_MPJoinSynTx = 0,
    MPTcpExt_MPJoinSynTxCreatSkErr = 0, MPTcpExt_MPJoinSynTxBindErr = 0,
    MPTcpExt_MPJoinSynTxConnectErr = 0, MPTcpExt_DSSNotMatching = 0,
    MPTcpExt_DSSCorruptionFallback = 0, MPTcpExt_DSSCorruptionReset = 0,
    MPTcpExt_InfiniteMapTx = 0, MPTcpExt_InfiniteMapRx = 0, MPTcpExt_DSSNoMatchTCP = 0,
    MPTcpExt_DataCsumErr = 0, MPTcpExt_OFOQueueTail = 0, MPTcpExt_OFOQueue = 0,
    MPTcpExt_OFOMerge = 0, MPTcpExt_NoDSSInWindow = 0, MPTcpExt_DuplicateData = 0,
    MPTcpExt_AddAddr = 0, MPTcpExt_AddAddrTx = 0, MPTcpExt_AddAddrTxDrop = 0,
    MPTcpExt_EchoAdd = 0, MPTcpExt_EchoAddTx = 0, MPTcpExt_EchoAddTxDrop = 0,
    MPTcpExt_PortAdd = 0, MPTcpExt_AddAddrDrop = 0, MPTcpExt_MPJoinPortSynRx = 0,
    MPTcpExt_MPJoinPortSynAckRx = 0, MPTcpExt_MPJoinPortAckRx = 0,
    MPTcpExt_MismatchPortSynRx = 0, MPTcpExt_MismatchPortAckRx = 0, MPTcpExt_RmAddr = 0,
    MPTcpExt_RmAddrDrop = 0, MPTcpExt_RmAddrTx = 0, MPTcpExt_RmAddrTxDrop = 0,
    MPTcpExt_RmSubflow = 0, MPTcpExt_MPPrioTx = 0, MPTcpExt_MPPrioRx = 0,
    MPTcpExt_MPFailTx = 0, MPTcpExt_MPFailRx = 0, MPTcpExt_MPFastcloseTx = 0,
    MPTcpExt_MPFastcloseRx = 0, MPTcpExt_MPRstTx = 0, MPTcpExt_MPRstRx = 0,
    MPTcpExt_SubflowStale = 0, MPTcpExt_SubflowRecover = 0, MPTcpExt_SndWndShared = 0,
    MPTcpExt_RcvWndShared = 0, MPTcpExt_RcvWndConflictUpdate = 0,
    MPTcpExt_RcvWndConflict = 0, MPTcpExt_MPCurrEstab = 0, MPTcpExt_Blackhole = 0,
    MPTcpExt_MPCapableDataFallback = 0, MPTcpExt_MD5SigFallback = 0,
    MPTcpExt_DssFallback = 0, MPTcpExt_SimultConnectFallback = 0,
    MPTcpExt_FallbackFailed = 0, MPTcpExt_WinProbe = 0,
    })
    fields.FilePath = "/proc/net/netstat"
    ok("netstat fixture netstat", { { Type = "stats.netstat", Fields = fields } },
        decode("linux_netstat", h.read_file(FIXTURES .. "net_netstat"),
            { FilePath = "/proc/net/netstat" }))

    -- this machine's /proc/net/snmp (Ip OutTransmits, Icmp OutRateLimit*, Tcp MaxConn -1)
    fields = integers({
    Ip_Forwarding = 2, Ip_DefaultTTL = 64, Ip_InReceives = 1152921, Ip_InHdrErrors = 0,
    Ip_InAddrErrors = 0, Ip_ForwDatagrams = 0, Ip_InUnknownProtos = 0, Ip_InDiscards = 0,
    Ip_InDelivers = 1152921, Ip_OutRequests = 1006308, Ip_OutDiscards = 0,
    Ip_OutNoRoutes = 0, Ip_ReasmTimeout = 0, Ip_ReasmReqds = 0, Ip_ReasmOKs = 0,
    Ip_ReasmFails = 0, Ip_FragOKs = 0, Ip_FragFails = 0, Ip_FragCreates = 0,
    Ip_OutTransmits = 1006308,
    Icmp_InMsgs = 3, Icmp_InErrors = 0, Icmp_InCsumErrors = 0, Icmp_InDestUnreachs = 3,
    Icmp_InTimeExcds = 0, Icmp_InParmProbs = 0, Icmp_InSrcQuenchs = 0, Icmp_InRedirects = 0,
    Icmp_InEchos = 0, Icmp_InEchoReps = 0, Icmp_InTimestamps = 0, Icmp_InTimestampReps = 0,
    Icmp_InAddrMasks = 0, Icmp_InAddrMaskReps = 0, Icmp_OutMsgs = 0, Icmp_OutErrors = 0,
    Icmp_OutRateLimitGlobal = 0, Icmp_OutRateLimitHost = 0, Icmp_OutDestUnreachs = 0,
    Icmp_OutTimeExcds = 0, Icmp_OutParmProbs = 0, Icmp_OutSrcQuenchs = 0,
    Icmp_OutRedirects = 0, Icmp_OutEchos = 0, Icmp_OutEchoReps = 0, Icmp_OutTimestamps = 0,
    Icmp_OutTimestampReps = 0, Icmp_OutAddrMasks = 0, Icmp_OutAddrMaskReps = 0,
    IcmpMsg_InType3 = 3,
    Tcp_RtoAlgorithm = 1, Tcp_RtoMin = 200, Tcp_RtoMax = 120000, Tcp_MaxConn = -1,
    Tcp_ActiveOpens = 1404, Tcp_PassiveOpens = 1028, Tcp_AttemptFails = 325,
    Tcp_EstabResets = 37, Tcp_CurrEstab = 0, Tcp_InSegs = 1152734, Tcp_OutSegs = 1149710,
    Tcp_RetransSegs = 123, Tcp_InErrs = 0, Tcp_OutRsts = 366, Tcp_InCsumErrors = 0,
    Udp_InDatagrams = 184, Udp_NoPorts = 0, Udp_InErrors = 0, Udp_OutDatagrams = 187,
    Udp_RcvbufErrors = 0, Udp_SndbufErrors = 0, Udp_InCsumErrors = 0, Udp_IgnoredMulti = 0,
    Udp_MemErrors = 0,
    UdpLite_InDatagrams = 0, UdpLite_NoPorts = 0, UdpLite_InErrors = 0,
    UdpLite_OutDatagrams = 0, UdpLite_RcvbufErrors = 0, UdpLite_SndbufErrors = 0,
    UdpLite_InCsumErrors = 0, UdpLite_IgnoredMulti = 0, UdpLite_MemErrors = 0,
    })
    fields.FilePath = "/proc/net/snmp"
    ok("netstat fixture snmp", { { Type = "stats.netstat", Fields = fields } },
        decode("linux_netstat", h.read_file(FIXTURES .. "net_snmp"),
            { FilePath = "/proc/net/snmp" }))

    -- a kernel with a new column, no final newline, no FilePath; payload_keep
    local payload = "Udp: InDatagrams NoPorts NewCounter\nUdp: 5 -1 12"
    ok("netstat new column", { { Type = "stats.netstat", Payload = payload,
        Fields = integers({ Udp_InDatagrams = 5, Udp_NoPorts = -1, Udp_NewCounter = 12 }) } },
        decode("linux_netstat", payload, nil, { payload_keep = true }))

    fails("netstat missing value line", decode("linux_netstat",
        "Ip: Forwarding DefaultTTL\nIcmp: InMsgs\nIcmp: 3\n"))
    fails("netstat missing last line", decode("linux_netstat",
        "Ip: Forwarding DefaultTTL\nIp: 1 64\nIcmp: InMsgs\n"))
    fails("netstat count mismatch", decode("linux_netstat",
        "Ip: Forwarding DefaultTTL\nIp: 1 64 5\n"))
    fails("netstat proto mismatch", decode("linux_netstat",
        "Ip: Forwarding DefaultTTL\nTcp: 1 64\n"))
    fails("netstat non-numeric value", decode("linux_netstat",
        "Ip: Forwarding DefaultTTL\nIp: 1 lots\n"))
    fails("netstat garbage", decode("linux_netstat", "no stats here\n"))
    fails("netstat empty", decode("linux_netstat", ""))
end
