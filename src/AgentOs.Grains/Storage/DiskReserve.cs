using AgentOs.Layout;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentOs.Storage;

/// <summary>
/// Space kept for the control plane on the databases' filesystem. Two parts: new turns (and new or resumed sessions)
/// are refused with <see cref="AgentOsErrorCode.StorageUnavailable"/> while free space is below
/// <see cref="AgentOsOptions.MinFreeDiskBytes"/>, so a turn does not start only to fail half-way; and a reserve file of
/// a quarter of that, allocated with <c>fallocate</c> (<see cref="FileStreamOptions.PreallocationSize"/>), is given back
/// to the filesystem the moment a commit fails with SQLITE_FULL. An agent that fills the disk (its home is on the same
/// filesystem by default) then costs the running turns of every VM nothing: their events commit into the freed
/// space, and the reserve is made again once free space is back above the minimum plus its size.
/// </summary>
internal sealed partial class DiskReserve
{
    private readonly object _gate = new();
    private readonly ILogger _logger;

    public DiskReserve(IOptions<AgentOsOptions> options, ILogger<DiskReserve> logger)
    {
        _logger = logger;
        Directory = options.Value.DatabaseDirectoryFullPath;
        MinFreeBytes = options.Value.MinFreeDiskBytes;
        Size = MinFreeBytes / 4;
        FilePath = Path.Combine(Directory, "reserve");
    }

    /// <summary>Where the databases live (the filesystem whose space is watched).</summary>
    public string Directory { get; }

    public long MinFreeBytes { get; }

    /// <summary>The reserve file's size: a quarter of <see cref="MinFreeBytes"/> (0: no reserve).</summary>
    public long Size { get; }

    public string FilePath { get; }

    /// <summary>Free space for the server's user on the databases' filesystem (statvfs).</summary>
    public long FreeBytes => new DriveInfo(Directory).AvailableFreeSpace;

    /// <summary>At start: makes the reserve, or says why it could not.</summary>
    public void Start()
    {
        PrivateFiles.CreateDirectory(Directory);
        lock (_gate)
        {
            if (!TryAllocate())
            {
                LogReserveNotMade(_logger, Size, FilePath, FreeBytes);
            }
        }
    }

    /// <summary>
    /// Refuses new work while free space is below the minimum (one statvfs), and remakes a released reserve once there
    /// is room for it again.
    /// </summary>
    public void ThrowIfLow(string what)
    {
        if (MinFreeBytes <= 0)
        {
            return;
        }

        var free = FreeBytes;
        if (free < MinFreeBytes)
        {
            throw new AgentOsException(AgentOsErrorCode.StorageUnavailable,
                $"{what} is refused: only {free:N0} bytes are free under {Directory}, below AgentOs:MinFreeDiskBytes ({MinFreeBytes:N0}). "
                + "The space is kept so that running turns never lose events; free some disk (a VM's home may have filled it) and try again.");
        }

        if (Size > 0 && !File.Exists(FilePath) && free >= MinFreeBytes + Size)
        {
            lock (_gate)
            {
                if (!File.Exists(FilePath) && TryAllocate())
                {
                    LogReserveRemade(_logger, Size, FilePath);
                }
            }
        }
    }

    /// <summary>On SQLITE_FULL: gives the reserve back to the filesystem. True when it did (the commit can be tried again at once).</summary>
    public bool Release()
    {
        lock (_gate)
        {
            try
            {
                if (!File.Exists(FilePath))
                {
                    return false;
                }

                File.Delete(FilePath);
                LogReserveReleased(_logger, Size, FilePath, MinFreeBytes);
                return true;
            }
            catch (IOException)
            {
                return false;
            }
        }
    }

    private bool TryAllocate()
    {
        if (Size <= 0 || File.Exists(FilePath))
        {
            return true;
        }

        try
        {
            var how = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, PreallocationSize = Size };
            if (!OperatingSystem.IsWindows())
            {
                how.UnixCreateMode = PrivateFiles.FileMode;
            }

            using var file = new FileStream(FilePath, how); // fallocate: the blocks are the filesystem's no more
            file.SetLength(Size); // and the size says so (fallocate kept it 0)
            return true;
        }
        catch (IOException)
        {
            try
            {
                File.Delete(FilePath);
            }
            catch (IOException)
            {
            }

            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not set aside the {Size}-byte disk reserve at {Path} ({Free} bytes free); a full disk may then cost running turns their events")]
    private static partial void LogReserveNotMade(ILogger logger, long size, string path, long free);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The disk under the databases is full: released the {Size}-byte reserve {Path} so running turns keep their events; new turns are refused until free space is above AgentOs:MinFreeDiskBytes ({MinFree})")]
    private static partial void LogReserveReleased(ILogger logger, long size, string path, long minFree);

    [LoggerMessage(Level = LogLevel.Information, Message = "Free space is back: the {Size}-byte disk reserve {Path} is set aside again")]
    private static partial void LogReserveRemade(ILogger logger, long size, string path);
}
